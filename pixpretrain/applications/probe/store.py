"""Features on disk: one half-precision ``.npy`` file per layer and split,
written shard by shard and read through a memory map.

A cache entry is a folder ``<root>/<key>/`` holding ``features.npy`` (N, D)
float16, ``labels.npy`` (N,) int64, ``meta.json`` (N, D, the shard size)
and ``shards/<i>.done``, one marker per finished shard of ``shard_size``
images. The arrays are created at full size before the first shard is
extracted, so any process may write any shard; an entry is complete when
every shard has its marker.
"""
import hashlib
import json
import mmap
import os
import os.path as osp
from typing import Iterator, List, Optional, Union

import numpy as np
import torch

from pixpretrain.utils.errors import BadDataError, bad_value
from pixpretrain.utils.fileio import atomic_write

#: Largest magnitude float16 holds; larger features cannot be cached.
HALF_MAX = float(np.finfo(np.float16).max)


class FeatureFile:
    """Rows of an (N, D) ``.npy`` file, read through a memory map.

    Indexing (an int tensor of rows, or a slice) returns a float32 torch
    tensor holding a copy of those rows only. A slice is read through the
    map, whose pages are handed back to the kernel (``MADV_DONTNEED``)
    after every ``release_mb`` read, so the mapped part of the process's
    resident memory stays under ``release_mb`` (or the largest single
    read) per file, whatever N; the page cache keeps the pages for the
    next pass. Scattered rows (a mini-batch) are read with ``pread``
    instead: a fault on a mapped file can map a whole large folio of the
    page cache (up to 2 MB), so each scattered row read through the map
    could make megabytes resident.

    Args:
        path: The ``.npy`` file.
        release_mb: Megabytes of pages touched between two hand-backs.
    """

    def __init__(self, path: str, release_mb: float = 1.0) -> None:
        with open(path, 'rb') as f:
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = _read_header(f, version)
            offset = f.tell()
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._fd = os.open(path, os.O_RDONLY)
        self._offset = offset
        if fortran:
            raise ValueError(f'{path} is stored column-major')
        self.path = path
        self.shape = tuple(shape)
        self.array = np.ndarray(self.shape, dtype=dtype, buffer=self._map,
                                offset=offset)
        self._unreleased = 0
        self._release_bytes = int(release_mb * (1 << 20))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Union[torch.Tensor, slice]) -> torch.Tensor:
        if isinstance(rows, torch.Tensor):
            return torch.from_numpy(self._gather(rows.numpy()))
        block = np.array(self.array[rows], dtype=np.float32)
        self._unreleased += block.nbytes // 2
        if self._unreleased >= self._release_bytes:
            self.release()
        return torch.from_numpy(block)

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        """(B, D) float32 copies of ``rows``, read with ``pread``."""
        row_bytes = self.array.itemsize * self.shape[1]
        out = np.empty((len(rows), self.shape[1]), dtype=self.array.dtype)
        view = memoryview(out.reshape(-1).view(np.uint8))
        for i, row in enumerate(rows.tolist()):
            if not 0 <= row < self.shape[0]:
                raise IndexError(f'row {row} of {self.shape[0]}')
            os.preadv(self._fd, [view[i * row_bytes:(i + 1) * row_bytes]],
                      self._offset + row * row_bytes)
        return out.astype(np.float32)

    def release(self) -> None:
        """Drop the mapped pages from this process (not from the disk)."""
        self._unreleased = 0
        if hasattr(self._map, 'madvise') and hasattr(mmap, 'MADV_DONTNEED'):
            self._map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        """Unmap the file."""
        self.array = None
        self._map.close()
        self.__del__()

    def __del__(self) -> None:
        if getattr(self, '_fd', None) is not None:
            os.close(self._fd)
            self._fd = None


def _read_header(f, version: tuple) -> tuple:
    """(shape, fortran_order, dtype) of an ``.npy`` file, its position
    left at the first byte of data."""
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def chunks(length: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``size`` covering ``range(length)``."""
    for start in range(0, length, size):
        yield slice(start, min(start + size, length))


class FeatureCache:
    """Cache entries by key, under ``root``; see the module docstring.

    Args:
        root: Folder of the cache; created on the first write.
        shard_size: Images per shard of new entries; an extraction that
            continues existing entries keeps their size
            (:meth:`shard_size_for`).

    Raises:
        ConfigError: ``shard_size`` is below 1.
    """

    def __init__(self, root: str, shard_size: int = 4096) -> None:
        if not isinstance(shard_size, int) or shard_size < 1:
            raise bad_value('shard_size', shard_size,
                            'must be a positive number of images')
        self.root = root
        self.shard_size = shard_size

    @staticmethod
    def key(**parts) -> str:
        """A stable name for the given key parts (JSON-serialisable)."""
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, key: str, name: str = '') -> str:
        """The entry's folder, or the file ``name`` in it."""
        return osp.join(self.root, key, name)

    def meta(self, key: str) -> Optional[dict]:
        """The entry's meta (length, width, shard size...), None if absent.
        """
        path = self.path(key, 'meta.json')
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)

    def shard_size_for(self, keys: List[str], length: int) -> int:
        """The shard size of an extraction writing ``keys``: that of an
        existing entry of this length (its finished shards stay useful),
        else :attr:`shard_size`."""
        for key in keys:
            meta = self.meta(key)
            if meta is not None and meta['length'] == length:
                return meta['shard_size']
        return self.shard_size

    def create(self, key: str, length: int, width: int,
               shard_size: int) -> dict:
        """Allocate an entry's arrays (unless one of that shape and shard
        size exists) and return its meta."""
        meta = self.meta(key)
        if meta is not None and (meta['length'], meta['width'],
                                 meta['shard_size']) == (
                                     length, width, shard_size):
            return meta
        meta = dict(length=length, width=width, shard_size=shard_size,
                    num_shards=-(-length // shard_size), dtype='float16')
        os.makedirs(self.path(key, 'shards'), exist_ok=True)
        for name in os.listdir(self.path(key, 'shards')):
            os.remove(self.path(key, 'shards/' + name))
        for name, dtype, shape in (('features.npy', np.float16,
                                    (length, width)),
                                   ('labels.npy', np.int64, (length, ))):
            array = np.lib.format.open_memmap(self.path(key, name), 'w+',
                                              dtype=dtype, shape=shape)
            del array  # the header and a sparse file of the full size
        atomic_write(json.dumps(meta).encode(), self.path(key, 'meta.json'))
        return meta

    def done_shards(self, key: str) -> List[int]:
        """The shards of the entry marked done, in order."""
        folder = self.path(key, 'shards')
        if not osp.isdir(folder):
            return []
        return sorted(int(name.split('.')[0]) for name in os.listdir(folder)
                      if name.endswith('.done'))

    def is_complete(self, key: str) -> bool:
        """Whether every shard of the entry is done."""
        meta = self.meta(key)
        return meta is not None and \
            len(self.done_shards(key)) == meta['num_shards']

    def write_rows(self, key: str, start: int, features: torch.Tensor,
                   labels: torch.Tensor) -> None:
        """Write rows ``start:start + len(features)`` in place (made
        durable by :meth:`mark_done`)."""
        if not bool(features.abs().max() <= HALF_MAX):
            raise BadDataError(
                f'features of cache entry {key} are not finite or exceed '
                f'float16 (|x| > {HALF_MAX:g}); probe an earlier layer or '
                'normalise the model')
        for name, block in (
                ('features.npy', features.to(torch.float16).numpy()),
                ('labels.npy', labels.to(torch.int64).numpy())):
            with open(self.path(key, name), 'r+b') as f:
                _read_header(f, np.lib.format.read_magic(f))
                f.seek(f.tell() + start * block[:1].nbytes)
                f.write(np.ascontiguousarray(block).tobytes())

    def mark_done(self, key: str, shard: int) -> None:
        """Flush the entry's arrays to disk, then mark the shard done."""
        for name in ('features.npy', 'labels.npy'):
            with open(self.path(key, name), 'r+b') as f:
                os.fsync(f.fileno())
        atomic_write(b'', self.path(key, f'shards/{shard}.done'))

    def open(self, key: str) -> FeatureFile:
        """The entry's features, for reading rows."""
        return FeatureFile(self.path(key, 'features.npy'))

    def labels(self, key: str) -> torch.Tensor:
        """The (N,) labels; small enough to hold in memory."""
        return torch.from_numpy(
            np.load(self.path(key, 'labels.npy'), mmap_mode='r').copy())
