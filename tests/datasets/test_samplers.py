"""ResumableSampler: DefaultSampler's order, and a pass that starts late."""
import pytest
import torch
from mmengine.dataset import DefaultSampler

from pixpretrain.datasets import ResumableSampler


def shuffled_share(n, seed, epoch, rank=0, world_size=1):
    """mmengine's documented order: randperm(seed + epoch), padded to a
    multiple of world_size, every world_size-th from rank."""
    g = torch.Generator()
    g.manual_seed(seed + epoch)
    order = torch.randperm(n, generator=g).tolist()
    total = -(-n // world_size) * world_size
    order = (order * 2)[:total]
    return order[rank:total:world_size]


def test_order_is_default_samplers():
    sampler = ResumableSampler(list(range(23)), shuffle=True, seed=7)
    sampler.set_epoch(3)
    reference = DefaultSampler(list(range(23)), shuffle=True, seed=7)
    reference.set_epoch(3)
    assert list(sampler) == list(reference) == shuffled_share(23, 7, 3)
    assert len(sampler) == 23


def test_skip_starts_the_next_pass_late_and_only_that_pass():
    sampler = ResumableSampler(list(range(23)), shuffle=True, seed=7)
    sampler.set_epoch(3)
    sampler.skip(10)
    assert list(sampler) == shuffled_share(23, 7, 3)[10:]
    assert len(sampler) == 23  # still a whole epoch for the loop's count
    assert list(sampler) == shuffled_share(23, 7, 3)
    sampler.skip(23)
    assert list(sampler) == []


@pytest.mark.parametrize('rank', [0, 1])
def test_skip_counts_this_ranks_share(monkeypatch, rank):
    monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info',
                        lambda: (rank, 2))
    sampler = ResumableSampler(list(range(11)), shuffle=True, seed=1)
    sampler.set_epoch(2)
    sampler.skip(4)
    assert list(sampler) == shuffled_share(11, 1, 2, rank, 2)[4:]


def test_skip_out_of_range_is_refused():
    sampler = ResumableSampler(list(range(5)), shuffle=False, seed=0)
    for bad in (-1, 6):
        with pytest.raises(ValueError, match='0 to 5'):
            sampler.skip(bad)
