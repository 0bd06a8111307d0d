"""The MLP projector of contrastive methods (SimCLR, MoCo v2)."""
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError
from ..utils import pool_feature


@MODELS.register_module()
class NonLinearNeck(BaseModule):
    """Global average pool, then Linear (-> BN) -> ReLU ... -> Linear.

    MoCo v2: 2048 -> 2048 -> 128, ReLU, no BN (``num_layers=2``). With
    ``num_layers=1`` it is the single linear projection of MoCo v1 and of
    the MoCo CIFAR demo.

    Args:
        in_channels: Width of the backbone's last output.
        hid_channels: Width of the hidden layers.
        out_channels: Width of the projection.
        num_layers: Linear layers, >= 1.
        with_bias: Bias in the linear layers (off automatically where a BN
            follows, whose shift replaces it).
        with_bn: BatchNorm1d after each hidden linear layer.
        with_last_bn: BatchNorm1d (no affine) after the last linear layer.
        with_avg_pool: Average a (B, C, H, W) map to (B, C) first; (B, C)
            inputs pass as they are.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 num_layers: int = 2,
                 with_bias: bool = True,
                 with_bn: bool = False,
                 with_last_bn: bool = False,
                 with_avg_pool: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ConfigError(
                f'neck.num_layers must be >= 1, got {num_layers}')
        for key, value in (('in_channels', in_channels),
                           ('hid_channels', hid_channels),
                           ('out_channels', out_channels)):
            if value < 1:
                raise ConfigError(f'neck.{key} must be >= 1, got {value}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.with_avg_pool = with_avg_pool
        widths = [in_channels] + [hid_channels] * (num_layers - 1) + \
            [out_channels]
        layers = []
        for i in range(num_layers):
            last = i == num_layers - 1
            bn = with_last_bn if last else with_bn
            layers.append(nn.Linear(widths[i], widths[i + 1],
                                    bias=with_bias and not bn))
            if bn:
                layers.append(nn.BatchNorm1d(widths[i + 1], affine=not last))
            if not last:
                layers.append(nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(*layers)

    def pool(self, features: Union[torch.Tensor, Sequence[torch.Tensor]]
             ) -> torch.Tensor:
        """The backbone's last output as (B, C), averaged over space."""
        if not isinstance(features, torch.Tensor):
            features = features[-1]
        if self.with_avg_pool and features.dim() == 4:
            features = pool_feature(features, 'avg')
        return features

    def forward(self, features: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> torch.Tensor:
        """Backbone outputs (a tuple whose last item is used, or a tensor)
        -> (B, out_channels)."""
        return self.mlp(self.pool(features))
