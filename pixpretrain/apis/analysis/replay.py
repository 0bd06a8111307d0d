"""Replaying a few preloaded batches, so a benchmark times the model alone
where JPEG decoding cannot feed the device."""
import itertools
from typing import List

from torch.utils.data import DataLoader


class ReplayLoader(DataLoader):
    """A data loader that yields the same few batches, in turn, forever.

    Each batch is the object the config's own loader produced (collated, and
    pinned if that loader pins memory), so each toolbox's data preprocessor
    still copies it to the device and normalises it at every step; only the
    decoding and augmentation are left out of the timed steps. A
    ``DataLoader`` subclass, because mmengine reads ``batch_size`` off a
    ``DataLoader`` instance when it scales the learning rate.

    Args:
        batches: The collated batches to replay.
        dataset: The dataset they came from (its ``metainfo`` is read by the
            training loop).
        batch_size: Samples per batch.
    """

    def __init__(self, batches: List, dataset, batch_size: int) -> None:
        super().__init__(dataset, batch_size=batch_size, num_workers=0)
        self.batches = batches

    def __iter__(self):
        # Never exhausted, so mmengine's loop never restarts it (which would
        # sleep 2 s per restart).
        return itertools.cycle(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def preload_batches(runner, count: int) -> ReplayLoader:
    """Draw ``count`` batches through ``runner``'s training data config
    and make the runner train on them, replayed from memory.

    Call after ``Runner.from_cfg`` and before ``runner.train()``.
    """
    loader = runner.build_dataloader(runner._train_dataloader,
                                     seed=runner.seed)
    iterator = iter(loader)
    batches = list(itertools.islice(iterator, count))
    if len(batches) < count:
        raise ValueError(f'--preload {count}: the data gives only '
                         f'{len(batches)} batches')
    replay = ReplayLoader(batches, loader.dataset, loader.batch_size)
    # Dropping the last references shuts the loader's worker processes down
    # (persistent ones too) before the timed steps start.
    del iterator, loader
    # The loop is built from this attribute in runner.train(); the Runner
    # has no public way to swap a data loader once it exists.
    runner._train_dataloader = replay
    return replay
