"""Images, with their captions or labels, streamed from tar shards (the
WebDataset layout).

A shard is a plain tar file whose members come in groups sharing a key:
``000042.jpg`` + ``000042.txt`` (one caption per line) and/or
``000042.cls`` (a class index). Shards are read
front to back, never indexed, so they can live on slow or network storage;
``tools/dataset_converters/make_shards.py`` writes them from an image folder
or a caption manifest.
"""
import logging
import os
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np
from mmengine.dataset import Compose
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .base import DATA_DOCS, build_pipeline
from .shard_files import (IMAGE_EXTS, captions_from_bytes, expand_shards,
                          rank_length, read_shard, refuse_file_loading,
                          sample_from_members, split_member_name)

__all__ = ['WebDatasetShards', 'IMAGE_EXTS', 'captions_from_bytes',
           'expand_shards', 'read_shard', 'split_member_name']


@DATASETS.register_module()
class WebDatasetShards(IterableDataset):
    """Stream images with their captions (CLIP, captioning) or without
    (MAE, MoCo, iGPT: ``with_captions=False``) from tar shards.

    Shards are split between all readers, i.e. ranks x dataloader workers:
    reader r of R takes shards r, r + R, r + 2R, ... of the (shuffled)
    list. With fewer shards than readers, every reader reads every shard
    and keeps every R-th sample instead (correct, but R times the reading).
    Samples then pass a shuffle buffer.

    The stream has no length: train with ``IterBasedTrainLoop`` and
    ``sampler=None`` in the dataloader. With ``repeat`` the stream never
    ends; pass k reshuffles the shard order with seed ``(seed, k)``, the same
    on every reader, so the split stays a partition.

    Samples reach the pipeline with ``img`` (HWC uint8), ``captions`` (the
    ``.txt`` lines; not with ``with_captions=False``), ``gt_label`` (where
    a ``.cls`` member holds one), ``img_path`` (``shard/key.ext``) and
    ``key``. A sample lacking a member it needs is skipped with a warning
    naming it.

    Args:
        shards: Brace range, glob or list of shard paths.
        data_root: Folder the shard paths start from.
        pipeline: Transforms (no ``LoadImageFromFile``: images arrive
            decoded).
        shuffle_buffer: Samples held for shuffling; 0 keeps shard order.
        shuffle_shards: Shuffle the shard order on every pass.
        repeat: Start over after the last shard, forever.
        seed: Seed of the shard order and the shuffle buffer.
        with_captions: Read and require each image's ``.txt`` captions;
            False reads images alone (and their ``.cls`` labels).
        length: Samples a pass is taken to hold, for whatever asks the
            data loader its length (mmengine's Runner does, to build param
            schedulers), all ranks together; each rank answers its
            share. ``None``: asking fails with a one-line error.
    """

    def __init__(self,
                 shards: Union[str, Sequence[str]],
                 data_root: str = '',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 shuffle_buffer: int = 1000,
                 shuffle_shards: bool = True,
                 repeat: bool = True,
                 seed: int = 0,
                 length: Optional[int] = None,
                 with_captions: bool = True) -> None:
        self.shards = expand_shards(shards, data_root)
        missing = [s for s in self.shards if not os.path.isfile(s)]
        if not self.shards or missing:
            raise DataRootNotFoundError(
                f"shard '{missing[0] if missing else shards}' does not exist; "
                'write shards with tools/dataset_converters/make_shards.py '
                f'(see docs/clip.md and {DATA_DOCS})')
        if shuffle_buffer < 0:
            raise ConfigError(
                f'shuffle_buffer must be >= 0, got {shuffle_buffer}')
        steps = build_pipeline(pipeline)
        refuse_file_loading(steps, type(self).__name__, with_captions)
        self.pipeline = Compose(steps)
        self.shuffle_buffer = shuffle_buffer
        self.shuffle_shards = shuffle_shards
        self.repeat = repeat
        self.seed = seed
        self._warned_sample_split = False
        self._next_pass = 0
        self.length = length
        self.with_captions = with_captions

    def __len__(self) -> int:
        return rank_length(type(self).__name__, self.length)

    @property
    def metainfo(self) -> dict:
        return dict(num_shards=len(self.shards))

    @staticmethod
    def reader_info() -> Tuple[int, int]:
        """(this reader's index, number of readers): ranks x workers."""
        rank, world_size = get_dist_info()
        worker = get_worker_info()
        worker_id, num_workers = (worker.id, worker.num_workers) \
            if worker is not None else (0, 1)
        return rank * num_workers + worker_id, world_size * num_workers

    def _shard_order(self, epoch: int) -> List[str]:
        if not self.shuffle_shards:
            return list(self.shards)
        order = np.random.default_rng((self.seed, epoch)).permutation(
            len(self.shards))
        return [self.shards[i] for i in order]

    def _raw_samples(self, epoch: int, reader: int,
                     readers: int) -> Iterator[dict]:
        order = self._shard_order(epoch)
        split_shards = len(order) >= readers
        if not split_shards and not self._warned_sample_split:
            self._warned_sample_split = True
            print_log(
                f'{len(order)} shards for {readers} readers (ranks x '
                'workers): every reader reads every shard; write more, '
                'smaller shards to read each once', logger='current',
                level=logging.WARNING)
        mine = order[reader::readers] if split_shards else order
        index = -1
        for shard in mine:
            for key, files in read_shard(shard):
                index += 1
                if not split_shards and index % readers != reader:
                    continue
                sample = sample_from_members(shard, key, files,
                                             self.with_captions)
                if sample is not None:
                    yield sample

    def _shuffled(self, samples: Iterator[dict],
                  rng: np.random.Generator) -> Iterator[dict]:
        buffer: List[dict] = []
        for sample in samples:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            slot = rng.integers(len(buffer))
            yield buffer[slot]
            buffer[slot] = sample
        rng.shuffle(buffer)
        yield from buffer

    def __iter__(self) -> Iterator[dict]:
        reader, readers = self.reader_info()
        while True:
            epoch = self._next_pass
            rng = np.random.default_rng((self.seed, epoch, reader))
            samples = self._raw_samples(epoch, reader, readers)
            if self.shuffle_buffer:
                samples = self._shuffled(samples, rng)
            produced = 0
            for sample in samples:
                data = self.pipeline(sample)
                if data is not None:
                    produced += 1
                    yield data
            if produced == 0 and self.repeat:
                # Repeating an empty pass would spin forever.
                raise RuntimeError(
                    f'reader {reader} of {readers} got no usable sample from '
                    f'its shards of {self.shards[:3]}...')
            # Counted in this process: persistent workers keep counting
            # across the Runner's epochs, fresh workers start from 0.
            self._next_pass += 1
            if not self.repeat:
                return

    def iter_captions(self) -> Iterator[str]:
        """Every caption in every shard, in order, images not decoded."""
        for shard in self.shards:
            for _, files in read_shard(shard):
                if 'txt' in files:
                    yield from captions_from_bytes(files['txt'])
