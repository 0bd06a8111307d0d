"""Batch-norm layers chosen by config, including MoCo's split batch norm."""
import functools
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from pixpretrain.utils.errors import ConfigError


class SplitBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that, in training, normalises ``num_splits`` groups of the
    batch with each group's own statistics.

    On one device this reproduces what a plain BatchNorm sees on
    ``num_splits`` devices (the official MoCo CIFAR demo's way of keeping
    batch-norm statistics from leaking between a query and its key). Group
    ``g`` holds samples ``g, g + S, g + 2S, ...`` (S = ``num_splits``): with
    a contiguous NCHW batch this grouping is a free reshape that the fused
    batch-norm kernel can run on. The running statistics are the average over
    groups of what each group's BatchNorm would accumulate; evaluation uses
    them exactly like :class:`torch.nn.BatchNorm2d`.

    Args:
        num_features: Channels C.
        num_splits: Groups S; the batch size must be a multiple of it.
        **kwargs: ``eps``, ``momentum``, ``affine`` of BatchNorm2d.
    """

    def __init__(self, num_features: int, num_splits: int = 8,
                 **kwargs) -> None:
        if num_splits < 1:
            raise ConfigError(
                f'SplitBN num_splits must be >= 1, got {num_splits}')
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        n, c, h, w = x.shape
        if n % self.num_splits:
            raise ValueError(
                f'SplitBatchNorm with num_splits={self.num_splits} needs a '
                f'batch divisible by it, got {n}')
        splits = self.num_splits
        factor = self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if factor is None:  # cumulative moving average, as BatchNorm
                factor = 1.0 / self.num_batches_tracked.item()
        # Sample i lands in channel block i % S of the (n/S, S*C) view.
        running_mean = running_var = None
        if self.track_running_stats:
            running_mean = self.running_mean.repeat(splits)
            running_var = self.running_var.repeat(splits)
        weight = self.weight.repeat(splits) if self.affine else None
        bias = self.bias.repeat(splits) if self.affine else None
        out = F.batch_norm(
            x.reshape(n // splits, splits * c, h, w), running_mean,
            running_var, weight, bias, True, factor or 0.0, self.eps)
        if self.track_running_stats:
            self.running_mean.copy_(running_mean.view(splits, c).mean(0))
            self.running_var.copy_(running_var.view(splits, c).mean(0))
        # A copy, not a view: ResNet's in-place ReLU on a view of the
        # batch-norm output would make autograd rebuild the whole tensor
        # (CopySlices), which costs more than this copy.
        return out.reshape(n, c, h, w).clone()

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, num_splits={self.num_splits}'


_NORMS = {
    'BN': nn.BatchNorm2d,
    'SyncBN': nn.SyncBatchNorm,
    'SplitBN': SplitBatchNorm,
}


def norm_layer_factory(norm_cfg: Optional[dict]) -> Callable[[int], nn.Module]:
    """A callable ``num_features -> norm layer`` from a config.

    Args:
        norm_cfg: ``dict(type='BN' | 'SyncBN' | 'SplitBN', **kwargs)``;
            ``SplitBN`` takes ``num_splits``. Other keys (``eps``,
            ``momentum``) go to the layer. ``None`` means ``BN``.
    """
    cfg = dict(norm_cfg or dict(type='BN'))
    norm_type = cfg.pop('type', 'BN')
    if norm_type not in _NORMS:
        raise ConfigError(f"norm_cfg.type must be one of {sorted(_NORMS)}, "
                          f'got {norm_type!r}')
    if 'num_splits' in cfg and norm_type != 'SplitBN':
        raise ConfigError(
            f"norm_cfg.num_splits only applies to type='SplitBN', not "
            f'{norm_type!r}')
    if norm_type == 'SplitBN':
        SplitBatchNorm(1, **cfg)  # validates the arguments at build time
    return functools.partial(_NORMS[norm_type], **cfg)
