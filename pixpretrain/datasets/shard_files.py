"""Tar shards in the WebDataset layout: their names, their members.

A shard is a plain tar file whose members come in groups sharing a key:
``000042.jpg``, with ``000042.txt`` (one caption per line) for image-text
pretexts and ``000042.cls`` (the class index in ASCII) where labels are
known; read front to back, never indexed. :class:`~pixpretrain.datasets.WebDatasetShards` streams them;
``tools/dataset_converters/make_shards.py`` writes them.
"""
import glob
import io
import logging
import os
import re
import tarfile
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from PIL import Image

from pixpretrain.utils.errors import ConfigError, DataFileError, no_length
from .transforms import (LoadImageFromFile, LoadRandomResizedCrop,
                         TokenizeText, pil_to_rgb_array)

IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')
# Shards already warned of a cls member that is no class index (per process).
_SHARDS_WITH_BAD_LABELS = set()
_BRACES = re.compile(r'\{(\d+)\.\.(\d+)\}')


def expand_shards(pattern: Union[str, Sequence[str]],
                  data_root: str = '') -> List[str]:
    """Shard paths from a brace range, a glob, or a list of either.

    ``'shards/cc-{000000..000009}.tar'`` names ten shards (zero padding
    follows the first bound); ``'shards/*.tar'`` globs, sorted.
    """
    if not isinstance(pattern, str):
        return [p for item in pattern for p in expand_shards(item, data_root)]
    pattern = os.path.join(os.path.expanduser(data_root), pattern) \
        if data_root else os.path.expanduser(pattern)
    match = _BRACES.search(pattern)
    if match:
        first, last = match.groups()
        head, tail = pattern[:match.start()], pattern[match.end():]
        return [
            p for i in range(int(first), int(last) + 1)
            for p in expand_shards(f'{head}{i:0{len(first)}d}{tail}')
        ]
    if glob.has_magic(pattern):
        return sorted(glob.glob(pattern))
    return [pattern]


def split_member_name(name: str) -> Tuple[str, str]:
    """``'dir/000042.jpg'`` -> ``('dir/000042', 'jpg')``: the key runs to the
    first dot of the file name (WebDataset's rule)."""
    folder, base = os.path.split(name)
    stem, _, ext = base.partition('.')
    return os.path.join(folder, stem), ext.lower()


def read_shard(path: str) -> Iterator[Tuple[str, Dict[str, bytes]]]:
    """(key, {extension: bytes}) per group of adjacent members.

    Raises:
        DataFileError: The file is no tar archive, or a truncated one.
    """
    key, files = None, {}
    try:
        with tarfile.open(path, 'r|*') as tar:
            for member in tar:
                if not member.isfile():
                    continue
                member_key, ext = split_member_name(member.name)
                if member_key != key:
                    if files:
                        yield key, files
                    key, files = member_key, {}
                files[ext] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError) as error:
        raise DataFileError(
            f"shard '{path}' is no readable tar archive ({error}): write it "
            'again with tools/dataset_converters/make_shards.py, or leave '
            'it out of the shard list') from None
    if files:
        yield key, files


def captions_from_bytes(data: bytes) -> List[str]:
    """A ``.txt`` member's non-empty lines."""
    return [line.strip() for line in data.decode('utf-8').splitlines()
            if line.strip()]


def sample_from_members(shard: str, key: str, files: Dict[str, bytes],
                        with_captions: bool = True) -> Optional[dict]:
    """One sample dict from a key's members: ``img`` (HWC uint8 RGB),
    ``key``, ``img_path`` (``shard/key.ext``), its shapes, ``captions``
    (the ``.txt`` lines) when ``with_captions``, and ``gt_label`` where a
    ``.cls`` member gives one.

    Returns:
        None, with a warning naming the sample, when a member it needs is
        missing (an image; a ``.txt`` when ``with_captions``), or, for
        images alone, its ``.cls`` is no class index (with captions the
        sample is kept without ``gt_label``, and the shard warned of once);
        None without a warning when every caption line is blank.
    """
    image_ext = next((e for e in IMAGE_EXTS if e in files), None)
    needs = f"an image ({'/'.join(IMAGE_EXTS)})" + \
        (' and a txt member' if with_captions else '')
    if image_ext is None or (with_captions and 'txt' not in files):
        return _skipped(shard, key, f'needs {needs}, has {sorted(files)}')
    sample = dict(key=key, img_path=f'{shard}/{key}.{image_ext}')
    if with_captions:
        sample['captions'] = captions_from_bytes(files['txt'])
        if not sample['captions']:
            return None
    if 'cls' in files:
        text = files['cls'].decode('utf-8', 'replace').strip()
        if text.isascii() and text.isdigit():
            sample['gt_label'] = int(text)
        elif not with_captions:
            return _skipped(shard, key, f'its cls member {text[:20]!r} is '
                            'not a class index (an integer >= 0)')
        elif shard not in _SHARDS_WITH_BAD_LABELS:
            _SHARDS_WITH_BAD_LABELS.add(shard)
            print_log(f"'{shard}/{key}.cls' holds {text[:20]!r}, not a "
                      'class index (an integer >= 0): captioned samples of '
                      'this shard with such a cls member go on without '
                      'gt_label (said once per shard)', logger='current',
                      level=logging.WARNING)
    with Image.open(io.BytesIO(files[image_ext])) as image:
        img = pil_to_rgb_array(image)
    return dict(sample, img=img, ori_shape=img.shape[:2],
                img_shape=img.shape[:2])


def _skipped(shard: str, key: str, why: str) -> None:
    print_log(f"skipping '{shard}/{key}': {why}", logger='current',
              level=logging.WARNING)


def refuse_file_loading(pipeline: Sequence[Callable], dataset: str,
                        with_captions: bool = True) -> None:
    """Raise :class:`ConfigError` for a pipeline step, nested ones included
    (``MultiView``'s pipelines, a wrapper's ``transforms``), that reads
    image files (a shard's images arrive decoded, and ``img_path`` names a
    tar member, not a file) or, without captions, tokenizes them."""
    for step in _nested_steps(pipeline):
        if isinstance(step, (LoadImageFromFile, LoadRandomResizedCrop)):
            raise ConfigError(
                f'{dataset} hands the pipeline decoded images, and '
                f'{type(step).__name__} reads image files: drop it from the '
                'pipeline (RandomResizedCrop replaces LoadRandomResizedCrop)')
        if isinstance(step, TokenizeText) and not with_captions:
            raise ConfigError(
                f'{dataset}(with_captions=False) reads no captions, and '
                'TokenizeText tokenizes them: drop it from the pipeline, or '
                'read captioned shards (with_captions=True)')


def _nested_steps(pipeline: Sequence[Callable]) -> Iterator[Callable]:
    for step in pipeline:
        yield step
        for inner in (getattr(step, 'pipelines', None) or
                      [getattr(step, 'transforms', None)]):
            if isinstance(inner, (list, tuple)):
                yield from _nested_steps(inner)
            elif callable(inner):  # a Compose of the steps
                yield from _nested_steps([inner])


def rank_length(dataset: str, length: Optional[int]) -> int:
    """A stream's ``__len__``: its share of ``length`` (the samples of one
    pass over all shards) on this rank, as a distributed sampler answers.

    Args:
        dataset: The class name, for the error.
        length: The declared samples of a pass, or None.

    Raises:
        NoLengthError: ``length`` is None.
    """
    if length is None:
        raise no_length(dataset)
    return -(-length // get_dist_info()[1])
