import copy

import pytest
import torch
from torch import nn

from pixpretrain.models.utils import SplitBatchNorm, norm_layer_factory
from pixpretrain.utils.errors import ConfigError


def _split_reference(bn: nn.BatchNorm2d, x: torch.Tensor, splits: int):
    """Each group (samples g, g + S, ...) through its own BatchNorm2d."""
    outputs = torch.empty_like(x)
    copies = [copy.deepcopy(bn) for _ in range(splits)]
    for g, layer in enumerate(copies):
        outputs[g::splits] = layer(x[g::splits])
    return outputs, copies


def test_training_uses_each_split_statistics_and_averages_running_ones():
    torch.manual_seed(0)
    split = SplitBatchNorm(3, num_splits=4, momentum=0.2)
    nn.init.uniform_(split.weight)
    nn.init.uniform_(split.bias)
    plain = nn.BatchNorm2d(3, momentum=0.2)
    plain.load_state_dict(split.state_dict())
    # Groups with very different statistics, so mixing them would show.
    x = torch.randn(8, 3, 5, 5) * torch.arange(1, 9.).view(8, 1, 1, 1) + \
        torch.arange(8.).view(8, 1, 1, 1)
    expected, copies = _split_reference(plain, x, 4)
    torch.testing.assert_close(split(x), expected)
    torch.testing.assert_close(
        split.running_mean,
        torch.stack([c.running_mean for c in copies]).mean(0))
    torch.testing.assert_close(
        split.running_var,
        torch.stack([c.running_var for c in copies]).mean(0))
    assert split.num_batches_tracked.item() == 1


def test_eval_and_one_split_behave_as_batch_norm():
    torch.manual_seed(0)
    split = SplitBatchNorm(3, num_splits=1)
    plain = nn.BatchNorm2d(3)
    x = torch.randn(4, 3, 2, 2)
    torch.testing.assert_close(split(x), plain(x))
    split.eval(), plain.eval()
    torch.testing.assert_close(split(x), plain(x))


def test_gradients_match_the_per_split_reference():
    torch.manual_seed(0)
    x = torch.randn(6, 2, 3, 3)
    split = SplitBatchNorm(2, num_splits=3)
    x1 = x.clone().requires_grad_()
    (split(x1) * torch.arange(6.).view(6, 1, 1, 1)).sum().backward()
    x2 = x.clone().requires_grad_()
    expected, _ = _split_reference(nn.BatchNorm2d(2), x2, 3)
    (expected * torch.arange(6.).view(6, 1, 1, 1)).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_channels_last_input_and_indivisible_batch():
    split = SplitBatchNorm(3, num_splits=2)
    x = torch.randn(4, 3, 4, 4)
    expected = split(x)
    split.num_batches_tracked.zero_()
    torch.testing.assert_close(
        split(x.contiguous(memory_format=torch.channels_last)), expected)
    with pytest.raises(ValueError, match='divisible'):
        split(torch.randn(3, 3, 4, 4))


def test_norm_factory():
    assert isinstance(norm_layer_factory(None)(4), nn.BatchNorm2d)
    layer = norm_layer_factory(dict(type='SplitBN', num_splits=8))(4)
    assert isinstance(layer, SplitBatchNorm) and layer.num_splits == 8
    with pytest.raises(ConfigError, match='num_splits'):
        norm_layer_factory(dict(type='SplitBN', num_splits=0))
    with pytest.raises(ConfigError, match="type='SplitBN'"):
        norm_layer_factory(dict(type='BN', num_splits=2))
