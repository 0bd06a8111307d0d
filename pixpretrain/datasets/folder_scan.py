"""Listing image files under a folder, following symlinks but skipping
those that would list files twice (loops, folders linked twice)."""
import logging
import os
from typing import Dict, List, Optional, Sequence, Set, Tuple

from mmengine.logging import print_log

from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .base import DATA_DOCS


def scan_images(folder: str, extensions: Sequence[str]) -> List[str]:
    """List image files under ``folder``, recursively, sorted.

    Hidden entries (names starting with '.') are skipped: macOS leaves
    ``._name.jpg`` resource forks next to real images, and they are not
    images. Symlinks are followed, to files and to folders alike (ImageNet
    copies are often farms of links), except a link that would list files
    twice: one pointing at a folder that contains the folder being walked
    (``a/loop -> ..``, a loop) or at a folder already listed through
    another path. Each is skipped with one warning naming it.

    Args:
        folder (str): Folder to scan.
        extensions (Sequence[str]): Lower-case suffixes, with the dot.

    Returns:
        list[str]: Paths relative to ``folder``, sorted.
    """
    suffixes = tuple(ext.lower() for ext in extensions)
    found: List[str] = []
    top = os.path.realpath(folder)
    # Real path -> the relative path it was first listed under.
    listed: Dict[str, str] = {top: '.'}
    # Each entry: a relative folder and the real paths from ``folder`` down
    # to it, the ancestors a link must not point back at.
    stack: List[Tuple[str, Tuple[str, ...]]] = [('', (top, ))]
    while stack:
        rel, walk = stack.pop()
        with os.scandir(os.path.join(folder, rel)) as scanned:
            # Sorted so the path kept for a doubly linked folder is the
            # same on every file system.
            entries = sorted(scanned, key=lambda e: e.name)
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith('.'):
                continue
            if entry.is_dir():
                path = os.path.join(rel, name)
                real = os.path.realpath(entry.path)
                if _loops_back(real, walk):
                    _warn_skipped_link(entry.path, real, _LOOP)
                elif real in listed:
                    first = os.path.join(folder, listed[real])
                    _warn_skipped_link(
                        entry.path, real, f"that folder is already listed as "
                        f"'{os.path.normpath(first)}'")
                else:
                    listed[real] = path
                    subdirs.append((path, walk + (real, )))
            elif name.lower().endswith(suffixes) and entry.is_file():
                found.append(os.path.join(rel, name))
        stack.extend(reversed(subdirs))
    found.sort()
    return found


def _loops_back(real: str, walk: Sequence[str]) -> bool:
    """Whether folder ``real`` is, or holds, a folder on the walk."""
    prefix = real if real.endswith(os.sep) else real + os.sep
    return any(p == real or p.startswith(prefix) for p in walk)


#: Links already warned about in this process: data sets are often built
#: twice (train and val, or each rank) from the same folder.
_WARNED_LINKS: Set[str] = set()


_LOOP = ('a loop: it leads back to a folder being listed, whose images '
         'would be listed again under the wrong class')


def _warn_skipped_link(path: str, real: str, reason: str) -> None:
    """Warn once per process that the folder link ``path`` is skipped."""
    if path in _WARNED_LINKS:
        return
    _WARNED_LINKS.add(path)
    print_log(
        f"skipping symlink '{path}' -> '{real}', {reason}; remove the link "
        'to silence this', logger='current', level=logging.WARNING)


def _top_level(folder: str,
               extensions: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Sorted names of the visible sub-folders and images in ``folder``;
    a sub-folder linking back to ``folder`` or above it is left out with a
    warning (it would read as a class holding every image)."""
    suffixes = tuple(ext.lower() for ext in extensions)
    top = os.path.realpath(folder)
    dirs, images = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith('.'):
                continue
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                if _loops_back(real, (top, )):
                    _warn_skipped_link(entry.path, real, _LOOP)
                else:
                    dirs.append(entry.name)
            elif entry.name.lower().endswith(suffixes) and entry.is_file():
                images.append(entry.name)
    return sorted(dirs), sorted(images)


def scan_class_folders(
        root: str,
        extensions: Sequence[str],
        dirs: Optional[Sequence[str]] = None,
        classes: Optional[Sequence[str]] = None
) -> Tuple[Tuple[str, ...], List[dict]]:
    """List ``root/<class>/**/<image>`` as labelled samples.

    Args:
        root (str): Folder whose visible sub-folders are the classes.
        extensions (Sequence[str]): Lower-case image suffixes, with the dot.
        dirs (Sequence[str], optional): The sub-folder names, when the
            caller has already listed them.
        classes (Sequence[str], optional): Label order; every sub-folder
            must be named in it. Defaults to the sorted sub-folder names.

    Returns:
        tuple: The class names and the samples (``img_path``, ``gt_label``).
    """
    if dirs is None:
        dirs = _top_level(root, extensions)[0]
    if classes is None:
        classes = tuple(dirs)
    else:
        classes = tuple(classes)
        unknown = sorted(set(dirs) - set(classes))
        if unknown:
            raise ConfigError(
                f"class folders {unknown[:5]} in '{root}' are not in "
                "metainfo['classes']; list every class or drop "
                "metainfo['classes'] to use the sorted folder names")
    class_to_idx = {name: i for i, name in enumerate(classes)}
    data_list = []
    for name in dirs:
        folder = os.path.join(root, name)
        images = scan_images(folder, extensions)
        if not images:
            # An empty class would silently shift every later label between
            # train and val copies of the same data set.
            raise DataRootNotFoundError(
                f"class folder '{folder}' holds no images with extensions "
                f"{' '.join(extensions)}; remove it or add images "
                f'(see {DATA_DOCS})')
        label = class_to_idx[name]
        data_list.extend(
            dict(img_path=os.path.join(folder, rel), gt_label=label)
            for rel in images)
    return classes, data_list
