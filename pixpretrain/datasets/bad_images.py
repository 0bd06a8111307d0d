"""Skipping unreadable images without losing the run, and stopping it when
too many of them are bad.

Image files are checked when they are loaded, not when a folder is listed:
opening every file of ImageNet up front would take longer than an epoch.
So the decision happens inside DataLoader workers, and the counts have to be
shared between them: they live in a small shared-memory tensor made with the
data set, before any worker starts.
"""
import logging
import numbers
from typing import Callable, Optional

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from torch.utils.data import get_worker_info

from pixpretrain.utils.errors import (DATA_DOCS, BadDataError,
                                      UnreadableImageError, bad_value)

#: Rows of the shared counts: row 0 for the process that owns the data set,
#: row 1 + i for DataLoader worker i (more workers than rows share rows).
COUNTER_ROWS = 257


class BadImageBudget:
    """Counts the images a data set read and those it could not read, over
    all its DataLoader workers, and stops the run when too many are bad.

    An unreadable image (missing, empty, truncated, not an image) is skipped
    with a warning naming it, and another sample is drawn in its place. The
    run stops with :class:`BadDataError` once the unreadable ones exceed
    ``max_bad_fraction`` of the larger of

    - the images met so far (read or not) by this process and its workers,
      so a mostly broken folder fails early in the first epoch, and
    - this rank's share of the data set, so the first bad file of a large
      data set is not judged against the handful of images read before it.

    ``max_bad_fraction=0`` fails fast, on the first unreadable image.

    Counts are per data set and per rank. They live in shared memory that
    forked workers inherit and spawned workers receive through torch's
    pickler; each process writes only its own row, so no lock is needed.

    Args:
        max_bad_fraction: Largest tolerated fraction of unreadable images, in
            [0, 1]. Defaults to 0.01.
    """

    def __init__(self, max_bad_fraction: float = 0.01) -> None:
        if (isinstance(max_bad_fraction, bool)
                or not isinstance(max_bad_fraction, numbers.Real)
                or not 0 <= max_bad_fraction <= 1):
            raise bad_value(
                'max_bad_fraction', max_bad_fraction,
                'must be the fraction of unreadable images a run tolerates '
                '(allowed: 0 <= max_bad_fraction <= 1; 0 stops at the first '
                'one)')
        self.max_bad_fraction = float(max_bad_fraction)
        # (read, unreadable) per process.
        self._counts = torch.zeros(COUNTER_ROWS, 2,
                                   dtype=torch.int64).share_memory_()
        # Warn once per file and process; epochs meet the same files again.
        self._warned = set()

    def __deepcopy__(self, memo: dict) -> 'BadImageBudget':
        # A copied data set (mmengine's get_subset) counts on its own; a
        # plain tensor copy would drop the shared memory.
        return type(self)(self.max_bad_fraction)

    @property
    def num_read(self) -> int:
        """Images read successfully so far, over all processes."""
        return int(self._counts[:, 0].sum())

    @property
    def num_unreadable(self) -> int:
        """Unreadable images met so far (each time met), over all
        processes."""
        return int(self._counts[:, 1].sum())

    def _own_row(self) -> torch.Tensor:
        info = get_worker_info()
        row = 0 if info is None else 1 + info.id % (COUNTER_ROWS - 1)
        return self._counts[row]

    def count_read(self) -> None:
        """Record one image read successfully."""
        self._own_row()[0] += 1

    def count_unreadable(self, error: UnreadableImageError,
                         num_samples: int) -> None:
        """Record an unreadable image: warn, or stop if over the budget.

        Args:
            error: What reading it raised (its message names the file).
            num_samples: Size of the data set.

        Raises:
            BadDataError: When the unreadable images exceed the budget.
        """
        self._own_row()[1] += 1
        unreadable, read = self.num_unreadable, self.num_read
        met = unreadable + read
        share = num_samples / max(1, get_world_size())
        if unreadable > self.max_bad_fraction * max(met, share):
            raise BadDataError(self._over_budget(error, unreadable, met,
                                                 num_samples)) from error
        if str(error) in self._warned:
            return
        self._warned.add(str(error))
        print_log(
            f'skipping {error} ({unreadable} of the {met} images met so far '
            f'were unreadable; the run stops above max_bad_fraction = '
            f'{self.max_bad_fraction:g})', logger='current',
            level=logging.WARNING)

    def _over_budget(self, error: UnreadableImageError, unreadable: int,
                     met: int, num_samples: int) -> str:
        if self.max_bad_fraction == 0:
            return (f'{error}; max_bad_fraction = 0 stops at the first '
                    f'unreadable image (see {DATA_DOCS})')
        return (f'too many unreadable images: {unreadable} of the {met} met '
                f'so far ({100 * unreadable / met:.1f} %) in a data set of '
                f'{num_samples}, above max_bad_fraction = '
                f'{self.max_bad_fraction:g}; the last: {error}. Replace or '
                f'delete the broken files, or raise max_bad_fraction (see '
                f'{DATA_DOCS})')

    def fetch(self, prepare: Callable[[int], Optional[dict]], index: int,
              num_samples: int, max_refetch: int) -> dict:
        """``prepare(index)``, drawing other indices in place of unreadable
        images and of samples the pipeline drops (returns None).

        Args:
            prepare: Reads and transforms one sample.
            index: The sample asked for.
            num_samples: Size of the data set (indices are drawn below it).
            max_refetch: How many other indices to try at most.

        Returns:
            dict: The first sample that loads.

        Raises:
            BadDataError: When the unreadable images exceed the budget.
        """
        for _ in range(max_refetch + 1):
            try:
                data = prepare(index)
            except UnreadableImageError as error:
                self.count_unreadable(error, num_samples)
                data = None
            else:
                self.count_read()
            if data is not None:
                return data
            index = int(np.random.randint(num_samples))
        raise BadDataError(
            f'no sample loaded in {max_refetch + 1} tries (index {index} was '
            'the last); the pipeline drops every sample or max_refetch is '
            'too small')


def fetch_sample(dataset: BaseDataset, index: int) -> dict:
    """``dataset[index]`` for a data set that holds a ``bad_images``
    :class:`BadImageBudget`: unreadable images are skipped (outside test
    mode), everything else as mmengine's ``BaseDataset.__getitem__``.

    Args:
        dataset: The data set.
        index: The sample asked for.

    Returns:
        dict: The sample after the pipeline.
    """
    dataset.full_init()
    if dataset.test_mode:
        # Test-time samples are never replaced: evaluation would silently
        # change. An unreadable image stops with one line naming it.
        return BaseDataset.__getitem__(dataset, index)
    return dataset.bad_images.fetch(dataset.prepare_data, index, len(dataset),
                                    dataset.max_refetch)
