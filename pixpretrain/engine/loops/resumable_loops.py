"""Training loops that continue an interrupted run exactly where it stopped.

mmengine's loops restore only the epoch and iteration counters on resume:
``EpochBasedTrainLoop`` then restarts the epoch from its first batch
(training on those samples twice and running past ``max_iters``), and
``IterBasedTrainLoop`` reads and drops every batch since the start of
training to get back to its place. Neither restores the random streams, so
the masks and augmentations after a resume differ from an uninterrupted
run's.

These loops

- continue the data where the checkpoint left it: a
  :class:`~pixpretrain.datasets.ResumableSampler` skips the samples of the
  epoch already trained on without loading them (other samplers fall back
  to reading and dropping those batches);
- seed python's, numpy's and torch's global generators before each
  iteration's batch is drawn, from ``(runner.seed, iteration)``
  (:func:`seed_iteration`), so the iteration's augmentations (with
  ``num_workers=0``) and its model-side draws (masks, noise) depend on the
  seed and the iteration alone, not on what ran before in the process.

With the same seed, a run resumed from any checkpoint therefore ends with
the same weights as one never interrupted: bit for bit on a CPU, and on a
GPU as far as its kernels are deterministic (``randomness =
dict(deterministic=True)``). With ``num_workers > 0`` the data workers draw
the augmentations from their own generators, which mmengine seeds once per
worker and which a resumed run restarts: the data order still continues
exactly, but the augmentations after a resume differ.
"""
import logging
import random
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.utils.data import BatchSampler, DataLoader

from pixpretrain.datasets.samplers import ResumableSampler
from pixpretrain.registry import LOOPS

_END = object()  # a loader's batches are never this


def seed_iteration(seed: int, iteration: int) -> None:
    """Seed ``random``, ``numpy.random`` and torch (CPU and every CUDA
    device) for one training iteration.

    Args:
        seed: The run's seed (``runner.seed``; per rank when the config
            asks for ``diff_rank_seed``).
        iteration: The iteration about to run, from 0.
    """
    words = np.random.SeedSequence([seed, iteration]).generate_state(2)
    seed64 = (int(words[0]) << 32) | int(words[1])
    np.random.seed(int(words[0]))
    random.seed(seed64)
    # torch.manual_seed would also visit every accelerator backend (~0.3 ms
    # a call); pixpretrain draws from the CPU generator and, once started,
    # CUDA's (other accelerators, e.g. MPS, are left as they are).
    torch.default_generator.manual_seed(seed64)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed64)


def resumable_sampler(dataloader: DataLoader) -> Optional[ResumableSampler]:
    """The loader's :class:`ResumableSampler`, when its batches are plain
    consecutive runs of that sampler's indices (so samples = batches *
    batch size); else ``None``."""
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    if type(batch_sampler) is BatchSampler and isinstance(
            batch_sampler.sampler, ResumableSampler):
        return batch_sampler.sampler
    return None


def batches_from(dataloader: DataLoader, start: int) -> Iterator:
    """A new pass over ``dataloader`` that begins at its batch ``start``.

    With a :class:`ResumableSampler` the first ``start`` batches are never
    loaded; with any other sampler they are loaded and dropped.
    """
    if start >= len(dataloader):
        # A checkpoint of the epoch's last batch: nothing is left to load,
        # and a skip handed to the sampler here would never be consumed
        # (no pass is read) but empty the next epoch instead.
        return iter(())
    sampler = resumable_sampler(dataloader)
    if start and sampler is not None:
        sampler.skip(start * dataloader.batch_sampler.batch_size)
        return iter(dataloader)
    batches = iter(dataloader)
    if start:
        print_log(
            f'{type(getattr(dataloader, "sampler", None)).__name__} cannot '
            f'skip samples: loading and dropping the {start} batches '
            'already trained on (use ResumableSampler to skip them)',
            logger='current', level=logging.WARNING)
        for _ in range(start):
            next(batches)
    return batches


def _set_epoch(dataloader: DataLoader, epoch: int) -> None:
    sampler = getattr(dataloader.batch_sampler, 'sampler',
                      getattr(dataloader, 'sampler', None))
    if hasattr(sampler, 'set_epoch'):
        sampler.set_epoch(epoch)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` (same arguments) that resumes mid-epoch
    exactly; see the module's documentation.

    Resumed from a checkpoint of iteration ``i`` saved in epoch ``e`` (by
    iteration), it trains the epoch's batches ``i - e * len(dataloader)``
    onwards, with ``batch_idx`` counting from there as the interrupted run
    did.
    """

    def run_epoch(self) -> None:
        """Train the rest of the current epoch (all of it unless resumed
        part-way through)."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start = self._batches_done()
        batches = batches_from(self.dataloader, start)
        for idx in range(start, len(self.dataloader)):
            seed_iteration(self.runner.seed, self._iter)
            data_batch = next(batches, _END)
            if data_batch is _END:
                break
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _batches_done(self) -> int:
        """Batches of the current epoch trained before a resume (0 when the
        epoch starts afresh)."""
        done = self._iter - self._epoch * len(self.dataloader)
        if 0 <= done <= len(self.dataloader):
            return done
        print_log(
            f'iteration {self._iter} is not in epoch {self._epoch + 1} of '
            f'{len(self.dataloader)} batches (did the batch size or the data '
            'change since the checkpoint?): starting the epoch afresh',
            logger='current', level=logging.WARNING)
        return 0


class _Passes:
    """Batches of a loader, pass after pass, as mmengine's iteration-based
    loop reads them (the sampler's epoch counts the passes), starting with
    ``first`` (a pass begun with :func:`batches_from`) of pass ``epoch``."""

    def __init__(self, dataloader: DataLoader, epoch: int,
                 first: Iterator) -> None:
        self.dataloader = dataloader
        self.epoch = epoch
        self._batches = first

    def __iter__(self) -> '_Passes':
        return self

    def __next__(self) -> Sequence[dict]:
        batch = next(self._batches, _END)
        if batch is _END:
            self.epoch += 1
            _set_epoch(self.dataloader, self.epoch)
            self._batches = iter(self.dataloader)
            batch = next(self._batches)
        return batch


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` (same arguments) that resumes exactly and,
    with a :class:`ResumableSampler`, without reading the batches already
    trained on; see the module's documentation."""

    def run(self) -> torch.nn.Module:
        """Train until ``max_iters`` (mmengine's ``run`` plus the per
        iteration seeding and the skip on resume)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._continue_data()
        else:
            # Pass after pass without mmengine's iterator, which warns at
            # every pass's end and sleeps two seconds before the next; its
            # first pass, already started (workers, open shards), goes on.
            started = getattr(self.dataloader_iterator, '_iterator', None)
            if started is None:  # bool() would ask the loader's length
                started = iter(self.dataloader)
            self.dataloader_iterator = _Passes(self.dataloader, 0, started)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            seed_iteration(self.runner.seed, self._iter)
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _continue_data(self) -> None:
        """Put the data where the checkpoint's iteration left it."""
        if resumable_sampler(self.dataloader) is None:
            print_log(
                f'loading and dropping the {self._iter} batches already '
                'trained on (use ResumableSampler to skip them)',
                logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            return
        # Resume inside pass p, at batch `done` in [1, len]: at a pass
        # boundary, the pass just finished is empty and the next one starts
        # inside the first iteration's next(), as in an uninterrupted run.
        passes, done = divmod(self._iter - 1, len(self.dataloader))
        _set_epoch(self.dataloader, passes)
        self.dataloader_iterator = _Passes(
            self.dataloader, passes, batches_from(self.dataloader, done + 1))
