"""A data set of image files: class sub-folders, a flat folder, or a list."""
import logging
import os
from typing import (Callable, Dict, List, Optional, Sequence, Set, Tuple,
                    Union)

from mmengine.logging import print_log

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .base import DATA_DOCS, ImageDataset

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.ppm', '.pgm',
                  '.tif', '.tiff', '.gif', '.jfif')


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


def _parse_label(token: str) -> Optional[int]:
    try:
        return int(token)
    except ValueError:
        return None


@DATASETS.register_module()
class ImageFolder(ImageDataset):
    """Image files in a folder, labelled or not.

    Three layouts:

    - class sub-folders (``root/<class>/**/<image>``): labels follow the
      sorted class names, stored in ``metainfo['classes']``;
    - a flat folder of images (no sub-folders): unlabelled, for pretraining;
    - an annotation list (``ann_file``): one ``relative/path.jpg [label]``
      per line, paths relative to the image folder; blank lines and lines
      starting with '#' are skipped.

    Args:
        data_root (str): The folder holding the images (or class folders).
        ann_file (str): Optional annotation list, relative to ``data_root``
            unless absolute. Defaults to '' (list the folder).
        pipeline (Sequence[dict | Callable]): Transforms; should start with
            ``LoadImageFromFile``. Defaults to ().
        with_label (bool | None): None infers labels from the layout (class
            sub-folders, or labels in the list file); False drops them even
            when present; True requires them. Defaults to None.
        extensions (Sequence[str]): File suffixes counted as images,
            case-insensitive. Defaults to :data:`IMG_EXTENSIONS`.
        data_prefix (str | dict): Image folder relative to ``data_root``,
            as a string or ``dict(img_path=...)``. Defaults to ''.
        metainfo (dict, optional): Extra meta information; ``classes`` given
            here fix the label order (every class folder must be listed).
        indices (int | Sequence[int], optional): Keep only these samples.
            An int N keeps N samples: with labels, spread evenly over the
            classes (see :func:`class_balanced_indices`: N // C per class,
            the remainder to the smallest labels), without labels the first
            N in listing order; a sequence keeps exactly those samples.
        serialize_data (bool): Pack the sample list into one numpy buffer
            so dataloader workers share it. Defaults to True.
        test_mode (bool): mmengine's test mode (no refetch on failure).
        lazy_init (bool): Defer listing files until first use.
        max_refetch (int): Retries with another sample when an image is
            unreadable or the pipeline returns None. Defaults to 1000.
        max_bad_fraction (float): Unreadable images (empty, truncated, not
            an image, missing) are skipped with a warning naming them; the
            run stops once they exceed this fraction, in [0, 1] (0 stops at
            the first one). See :class:`BadImageBudget`. Files are checked
            when loaded, not when listed. Defaults to 0.01.
    """

    def __init__(self,
                 data_root: str,
                 ann_file: str = '',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 with_label: Optional[bool] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 data_prefix: Union[str, dict] = '',
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 max_bad_fraction: float = 0.01) -> None:
        data_root = os.path.expanduser(data_root)
        prefix = data_prefix.get('img_path', '') \
            if isinstance(data_prefix, dict) else data_prefix
        self.img_root = os.path.join(data_root, prefix) if prefix \
            else data_root
        self.with_label = with_label
        self.extensions = tuple(ext.lower() for ext in extensions)
        if not os.path.isdir(data_root):
            state = 'is a file, not a folder' if os.path.exists(data_root) \
                else 'does not exist'
            raise DataRootNotFoundError(
                f"data root '{data_root}' {state}; see {DATA_DOCS} to "
                'prepare ImageNet or CIFAR, or point data_root at your own '
                'image folder')
        if ann_file:
            ann_path = ann_file if os.path.isabs(ann_file) \
                else os.path.join(data_root, ann_file)
            if not os.path.isfile(ann_path):
                raise DataRootNotFoundError(
                    f"annotation file '{ann_path}' does not exist; see "
                    f'{DATA_DOCS} for the list format, or set ann_file=\'\' '
                    'to use every image under data_root')
        elif not os.path.isdir(self.img_root):
            raise DataRootNotFoundError(
                f"image folder '{self.img_root}' does not exist; see "
                f'{DATA_DOCS}, or point data_root/data_prefix at your images')
        # The shared arguments, in ImageDataset's order.
        super().__init__(pipeline, indices, serialize_data, test_mode,
                         lazy_init, max_refetch, max_bad_fraction, ann_file=ann_file, metainfo=metainfo,
                         data_root=data_root,
                         data_prefix=dict(img_path=prefix))

    def load_data_list(self) -> List[dict]:
        """List the samples (called once by ``full_init``).

        Returns:
            list[dict]: ``img_path`` and, when labelled, ``gt_label``.
        """
        if self.ann_file:
            return self._load_list_file()
        return self._load_folder()

    def _load_folder(self) -> List[dict]:
        root = self.img_root
        dirs, top_images = _top_level(root, self.extensions)
        labelled = self.with_label
        if labelled is None:
            labelled = bool(dirs) and not top_images
            if dirs and top_images:
                print_log(
                    f"'{root}' holds both images and sub-folders, so its "
                    'sub-folders are not read as classes and every image is '
                    'used unlabelled; pass with_label=True to use the '
                    'sub-folders as classes', logger='current',
                    level=logging.WARNING)
        if labelled:
            return self._load_class_folders(root, dirs, top_images)
        data_list = [
            dict(img_path=os.path.join(root, rel))
            for rel in scan_images(root, self.extensions)
        ]
        if not data_list:
            raise DataRootNotFoundError(
                f"data root '{root}' exists but holds no images with "
                f"extensions {' '.join(self.extensions)}; see {DATA_DOCS}")
        return data_list

    def _load_class_folders(self, root: str, dirs: List[str],
                            top_images: List[str]) -> List[dict]:
        if not dirs:
            raise ConfigError(
                f"with_label=True but '{root}' has no class sub-folders; "
                'put each class in its own sub-folder, pass an ann_file with '
                f'labels, or use with_label=None for unlabelled images '
                f'(see {DATA_DOCS})')
        if top_images:
            print_log(
                f"ignoring {len(top_images)} images directly in '{root}': "
                'with class sub-folders only their contents are used',
                logger='current', level=logging.WARNING)
        classes, data_list = scan_class_folders(
            root, self.extensions, dirs, self._metainfo.get('classes'))
        self._metainfo['classes'] = classes
        return data_list

    def _load_list_file(self) -> List[dict]:
        data_list = []
        # First line number with / without a label, to name a mixed file.
        first_with: Optional[int] = None
        first_without: Optional[int] = None
        with open(self.ann_file, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                parts = line.rsplit(maxsplit=1)
                label = _parse_label(parts[-1]) if len(parts) == 2 else None
                if label is None:
                    path = line
                    first_without = first_without or lineno
                else:
                    path = parts[0]
                    first_with = first_with or lineno
                    if label < 0:
                        raise ConfigError(
                            f"{self.ann_file}:{lineno}: label {label} is "
                            'negative; labels are class indices from 0')
                info = dict(img_path=os.path.join(self.img_root, path))
                if label is not None and self.with_label is not False:
                    info['gt_label'] = label
                data_list.append(info)
        if first_with and first_without:
            raise ConfigError(
                f'{self.ann_file}: line {first_with} has a label but line '
                f'{first_without} does not; label every line or none')
        labelled = first_with is not None
        if not data_list:
            raise DataRootNotFoundError(
                f"annotation file '{self.ann_file}' lists no images; see "
                f'{DATA_DOCS} for the format')
        if self.with_label and not labelled:
            raise ConfigError(
                f"with_label=True but '{self.ann_file}' has no labels; "
                "write 'path label' lines (see "
                f'{DATA_DOCS}) or use with_label=None')
        classes = self._metainfo.get('classes')
        if classes is not None and labelled:
            top = max(d.get('gt_label', -1) for d in data_list)
            if top >= len(classes):
                raise ConfigError(
                    f"'{self.ann_file}' has label {top} but "
                    f"metainfo['classes'] lists only {len(classes)} classes")
        return data_list
