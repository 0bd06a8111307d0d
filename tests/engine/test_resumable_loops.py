"""The pieces of exact resume: per-iteration seeding and late passes.

End-to-end resume (SIGKILL, then --resume, bitwise equal weights) is in
tests/tools/test_resume.py.
"""
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader, Dataset

from pixpretrain.datasets import ResumableSampler
from pixpretrain.engine import batches_from, seed_iteration


def draws():
    return (random.random(), np.random.rand(), torch.rand(()).item())


def test_seeding_depends_on_seed_and_iteration_only():
    seed_iteration(3, 41)
    first = draws()
    draws()  # whatever ran before does not matter
    seed_iteration(3, 41)
    assert draws() == first
    seed_iteration(3, 42)
    other_iteration = draws()
    seed_iteration(4, 41)
    other_seed = draws()
    for a, b, c in zip(first, other_iteration, other_seed):
        assert a != b and a != c


class CountingDataset(Dataset):
    """Item i is i; counts how many items were loaded."""

    def __init__(self, n):
        self.n, self.loaded = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        self.loaded += 1
        return index


@pytest.mark.parametrize('sampler_type, loads_skipped',
                         [(ResumableSampler, False), (DefaultSampler, True)])
def test_a_pass_from_batch_start(sampler_type, loads_skipped):
    dataset = CountingDataset(30)  # 8 batches of 4, the last one short
    sampler = sampler_type(dataset, shuffle=True, seed=5)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler)
    whole = [batch.tolist() for batch in loader]
    dataset.loaded = 0
    assert [b.tolist() for b in batches_from(loader, 3)] == whole[3:]
    assert dataset.loaded == (30 if loads_skipped else 30 - 12)
    # Starting after the last batch: an empty pass, no skip beyond the data.
    assert list(batches_from(loader, len(loader))) == []
    assert [b.tolist() for b in batches_from(loader, 0)] == whole
    # Resumed after an epoch's last batch, the loop never reads that empty
    # pass; the next epoch must still be whole.
    batches_from(loader, len(loader))
    dataset.loaded = 0
    assert [b.tolist() for b in batches_from(loader, 0)] == whole
    assert dataset.loaded == 30
