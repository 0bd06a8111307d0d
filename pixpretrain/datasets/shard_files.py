"""Tar shards in the WebDataset layout: their names, their members.

A shard is a plain tar file whose members come in groups sharing a key:
``000042.jpg`` + ``000042.txt`` (one caption per line), read front to back,
never indexed. :class:`~pixpretrain.datasets.WebDatasetShards` streams them;
``tools/dataset_converters/make_shards.py`` writes them.
"""
import glob
import os
import re
import tarfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.dist import get_dist_info

from pixpretrain.utils.errors import no_length

IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')
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
    """(key, {extension: bytes}) per group of adjacent members."""
    key, files = None, {}
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
    if files:
        yield key, files


def captions_from_bytes(data: bytes) -> List[str]:
    """A ``.txt`` member's non-empty lines."""
    return [line.strip() for line in data.decode('utf-8').splitlines()
            if line.strip()]


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
