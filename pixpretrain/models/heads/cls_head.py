"""Classification heads: a linear layer on a pooled feature, and a small
MLP on global-average, global-max and region-pooled features.

Heads take the backbone's last layer as a map of the patch features
``(B, D, h, w)`` plus its cls token ``(B, D)`` (None when the backbone has
none); :class:`ImageClassifier` prepares both. Targets are label
distributions (B, num_classes): one-hot labels, or mixed ones after
mixup/CutMix.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError
from ..utils import check_pool, pool_feature


class ClsHead(BaseModule):
    """Soft-target cross-entropy with label smoothing; subclasses give the
    logits in :meth:`forward`.

    Args:
        in_channels: Feature width D.
        num_classes: Number of classes C.
        label_smoothing: Share of each target spread uniformly over the
            classes, in [0, 1).
    """

    #: 'avg' or 'cls': what the head reads; ImageClassifier checks that the
    #: backbone has a cls token when a head asks for it.
    pool = 'avg'

    def __init__(self, in_channels: int, num_classes: int,
                 label_smoothing: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ConfigError(f'num_classes must be >= 2, got {num_classes}')
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(
                f'label_smoothing must lie in [0, 1), got {label_smoothing}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def forward(self, feature_map: torch.Tensor,
                cls_token: Optional[torch.Tensor]) -> torch.Tensor:
        """(B, D, h, w) map and (B, D) cls token -> (B, C) logits."""
        raise NotImplementedError

    def loss(self, feature_map: torch.Tensor,
             cls_token: Optional[torch.Tensor],
             targets: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of ``-sum_c q_c log p_c``, where
        ``q = (1 - eps) * targets + eps / C``.

        Args:
            feature_map: (B, D, h, w).
            cls_token: (B, D) or None.
            targets: (B, C) label distributions.
        """
        logits = self(feature_map, cls_token)                      # (B, C)
        eps = self.label_smoothing
        smoothed = targets * (1.0 - eps) + eps / self.num_classes
        return -(smoothed * logits.float().log_softmax(-1)).sum(-1).mean()

    def predict(self, feature_map: torch.Tensor,
                cls_token: Optional[torch.Tensor]) -> torch.Tensor:
        """(B, C) class probabilities."""
        return self(feature_map, cls_token).float().softmax(-1)


@MODELS.register_module()
class LinearClsHead(ClsHead):
    """A linear layer on the averaged patch features or the cls token.

    Args:
        in_channels: Feature width D.
        num_classes: Number of classes C.
        pool: 'avg' (global average of the patch features; MAE fine-tuning)
            or 'cls' (the cls token).
        feature_norm: Standardise the pooled feature with a BatchNorm
            without affine parameters first (MAE's linear probe).
        label_smoothing: See :class:`ClsHead`.
        init_std: Std of the weights' truncated-normal init (MAE: 2e-5 for
            fine-tuning, 0.01 for linear probing).
    """

    def __init__(self, in_channels: int, num_classes: int, pool: str = 'avg',
                 feature_norm: bool = False, label_smoothing: float = 0.0,
                 init_std: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, num_classes, label_smoothing, init_cfg)
        self.pool = check_pool(pool, 'head.pool')
        self.norm = (nn.BatchNorm1d(in_channels, affine=False, eps=1e-6)
                     if feature_norm else nn.Identity())
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.trunc_normal_(self.fc.weight, std=init_std)
        nn.init.zeros_(self.fc.bias)

    def forward(self, feature_map: torch.Tensor,
                cls_token: Optional[torch.Tensor]) -> torch.Tensor:
        if self.pool == 'cls':
            feature = cls_token                                    # (B, D)
        else:
            feature = pool_feature(feature_map, 'avg')             # (B, D)
        return self.fc(self.norm(feature))


@MODELS.register_module()
class GlobalLocalClsHead(ClsHead):
    """Two FC layers with a LeakyReLU on [global avg, global max, regions].

    The regions are a ``local_grid x local_grid`` average pooling of the
    map, so the classifier sees where things are as well as what.

    Args:
        in_channels: Feature width D.
        num_classes: Number of classes C.
        hidden_channels: Width of the first FC layer (default D).
        local_grid: Regions per side; the input to the first layer has
            ``(2 + local_grid ** 2) * D`` features.
        negative_slope: LeakyReLU slope.
        dropout: Dropout before each FC layer.
        label_smoothing: See :class:`ClsHead`.
    """

    def __init__(self, in_channels: int, num_classes: int,
                 hidden_channels: Optional[int] = None, local_grid: int = 2,
                 negative_slope: float = 0.01, dropout: float = 0.0,
                 label_smoothing: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, num_classes, label_smoothing, init_cfg)
        if local_grid < 1:
            raise ConfigError(f'local_grid must be >= 1, got {local_grid}')
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f'dropout must lie in [0, 1), got {dropout}')
        hidden = hidden_channels or in_channels
        self.local_grid = local_grid
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear((2 + local_grid**2) * in_channels, hidden),
            nn.LeakyReLU(negative_slope),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes))

    def forward(self, feature_map: torch.Tensor,
                cls_token: Optional[torch.Tensor]) -> torch.Tensor:
        global_avg = pool_feature(feature_map, 'avg')             # (B, D)
        global_max = feature_map.amax(dim=(2, 3))                 # (B, D)
        regions = F.adaptive_avg_pool2d(feature_map, self.local_grid)
        local = regions.flatten(1)                                # (B, D r r)
        return self.mlp(torch.cat([global_avg, global_max, local], dim=1))
