"""A sampler that can start part-way through an epoch, for exact resume."""
import itertools
from typing import Iterator

from mmengine.dataset import DefaultSampler

from pixpretrain.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` (same arguments, same order) whose next
    pass can skip the samples an interrupted run already trained on.

    A run resumed from a checkpoint saved mid-epoch calls :meth:`skip` with
    the number of this rank's samples already consumed in the epoch (see
    :class:`~pixpretrain.engine.ResumableEpochBasedTrainLoop`); the next
    pass then yields the rest of that epoch's permutation (same seed, same
    epoch) without touching the data set, so no skipped image is decoded.
    Passes after it are whole.

    ``len()`` stays the length of a whole epoch: the loops count an epoch's
    iterations by it.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip(self, num_samples: int) -> None:
        """Start the next pass after this rank's first ``num_samples``.

        Args:
            num_samples: Samples of this rank's share of the current epoch
                already trained on, in ``[0, len(self)]``.
        """
        if not 0 <= num_samples <= self.num_samples:
            raise ValueError(f'can skip 0 to {self.num_samples} samples of '
                             f'an epoch, got {num_samples}')
        self._skip = num_samples

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        return itertools.islice(super().__iter__(), skip, None)
