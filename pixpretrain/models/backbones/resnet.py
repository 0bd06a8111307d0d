"""ResNet (He et al. 2016) with torchvision's parameter layout.

The residual blocks are torchvision's own, and the stem and stages carry
torchvision's names (``conv1``, ``bn1``, ``layer1`` ... ``layer4``), so a
``torchvision.models.resnet50().state_dict()`` without ``fc`` loads strictly
and published ResNet checkpoints need no key mapping.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union

import torch
from mmengine.model import BaseModule
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (checkpointed_sequence, norm_layer_factory,
                     resolve_out_indices, run_intermediates)
from ..utils.input_checks import check_image_batch

Block = Union[Type[BasicBlock], Type[Bottleneck]]

# block type and blocks per stage (He et al., Table 1)
ARCHS: Dict[int, Tuple[Block, Tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
# How index errors name ResNet's layers ("stage index 4 is out of range for
# 4 ResNet stages").
STAGE_WORDS = dict(kind='stage', of='ResNet stages')


@MODELS.register_module()
class ResNet(BaseModule):
    """ResNet encoder: stem and four stages, no pooling or classifier.

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: Image channels.
        cifar_stem: The common recipe for 32 px images (as in the MoCo
            CIFAR demo): a 3x3 stride-1 ``conv1`` and no max-pool, so
            ``layer1`` runs at full resolution. ``conv1`` then has a 3x3
            kernel and ImageNet checkpoints' 7x7 one does not load.
        out_indices: Stages (0 = ``layer1`` ... 3 = ``layer4``; negative
            counts from the end) whose outputs :meth:`forward` returns.
        frozen_stages: Stages kept frozen (weights without gradient, batch
            norm in eval mode): -1 none, 0 the stem, i the stem and stages
            0 .. i - 1 (i = 1 .. 4).
        norm_cfg: Batch norm of every block, e.g. ``dict(type='BN')``,
            ``dict(type='SyncBN')`` or ``dict(type='SplitBN',
            num_splits=8)``; see :func:`norm_layer_factory`.
        zero_init_residual: Start each residual branch's last BN at zero,
            so every block starts as the identity (Goyal et al. 2017).
        with_cp: Activation checkpointing of every residual block: keep
            only each block's input for the backward pass and recompute the
            rest there; batch norms update their running statistics once.
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained',
            checkpoint=...)``.
    """

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 cifar_stem: bool = False,
                 out_indices: Union[int, Sequence[int]] = -1,
                 frozen_stages: int = -1,
                 norm_cfg: Optional[dict] = None,
                 zero_init_residual: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in ARCHS:
            raise bad_value(
                'backbone.depth', depth, 'unknown ResNet depth (allowed: '
                f"{', '.join(str(d) for d in sorted(ARCHS))})")
        if not -1 <= frozen_stages <= len(STAGE_WIDTHS):
            raise ConfigError(
                'ResNet frozen_stages must lie in [-1, '
                f'{len(STAGE_WIDTHS)}], got {frozen_stages}')
        block, blocks_per_stage = ARCHS[depth]
        self.depth = depth
        self.cifar_stem = cifar_stem
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        norm_layer = norm_layer_factory(norm_cfg)

        if cifar_stem:
            self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = norm_layer(64)
        self.relu = nn.ReLU(inplace=True)

        channels = 64
        self.stage_names = []
        for i, (width, count) in enumerate(zip(STAGE_WIDTHS,
                                               blocks_per_stage)):
            stage, channels = self._make_stage(block, channels, width, count,
                                               1 if i == 0 else 2, norm_layer)
            name = f'layer{i + 1}'
            self.add_module(name, stage)
            self.stage_names.append(name)
        self.num_stages = len(self.stage_names)
        self.out_channels = tuple(w * block.expansion for w in STAGE_WIDTHS)
        self.num_features = self.out_channels[-1]

        self.out_indices = resolve_out_indices(
            out_indices, len(self.stage_names), **STAGE_WORDS)
        self._init_as_torchvision(zero_init_residual)
        self._freeze_stages()

    @staticmethod
    def _make_stage(block: Block, in_channels: int, width: int, count: int,
                    stride: int, norm_layer) -> Tuple[nn.Sequential, int]:
        out_channels = width * block.expansion
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(
                conv1x1(in_channels, out_channels, stride),
                norm_layer(out_channels))
        blocks = [block(in_channels, width, stride, downsample,
                        norm_layer=norm_layer)]
        blocks += [block(out_channels, width, norm_layer=norm_layer)
                   for _ in range(count - 1)]
        return nn.Sequential(*blocks), out_channels

    def _init_as_torchvision(self, zero_init_residual: bool) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out',
                                        nonlinearity='relu')
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, Bottleneck):
                    nn.init.zeros_(module.bn3.weight)
                elif isinstance(module, BasicBlock):
                    nn.init.zeros_(module.bn2.weight)

    def _frozen_modules(self) -> List[nn.Module]:
        if self.frozen_stages < 0:
            return []
        stem = [self.conv1, self.bn1]
        return stem + [getattr(self, name)
                       for name in self.stage_names[:self.frozen_stages]]

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> 'ResNet':
        """Frozen stages stay in eval mode, so their batch-norm statistics
        stay fixed as well as their weights."""
        super().train(mode)
        self._freeze_stages()
        return self

    def stem(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 64, H / s, W / s); s is 4, or 1 for the CIFAR
        stem."""
        check_image_batch(images, type(self).__name__)
        return self.maxpool(self.relu(self.bn1(self.conv1(images))))

    def forward_intermediates(self, images: torch.Tensor,
                              layers: Sequence[int]) -> List[torch.Tensor]:
        """Outputs of the given stages, each (B, C_i, H_i, W_i).

        Stage ``i`` (0-3) is ``layer{i+1}``; negative indices count from the
        end. Stages after the deepest requested one are not run.
        """
        stages = [getattr(self, name) for name in self.stage_names]
        if self.with_cp:
            stages = [checkpointed_sequence(stage) for stage in stages]
        return run_intermediates(self.stem(images), stages, layers,
                                 **STAGE_WORDS)

    def forward(self, images: torch.Tensor) -> tuple:
        """Outputs of the ``out_indices`` stages, each (B, C_i, H_i, W_i)."""
        return tuple(self.forward_intermediates(images, self.out_indices))
