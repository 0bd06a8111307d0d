"""One layer's output -> one vector per image, for any backbone.

Backbones hand out either token sequences (B, P + N, D), whose first P
tokens are prefix tokens such as ViT's cls token (the backbone's
``num_prefix_tokens``, 0 when it has no such attribute), or feature maps
(B, C, H, W) (ResNet stages). Probes and classifier heads pool both here.
"""
import math
from typing import Optional, Sequence

import torch
from torch import nn

from pixpretrain.utils.errors import ConfigError

POOLS = ('avg', 'cls')


def check_pool(pool: str, key: str = 'pool') -> str:
    """``pool`` if it is one of :data:`POOLS`, else a ConfigError."""
    if pool not in POOLS:
        raise ConfigError(f'{key} must be one of {POOLS}, got {pool!r}')
    return pool


def feature_width(backbone: nn.Module) -> Optional[int]:
    """Channels of the backbone's last output: ``embed_dims`` of token
    backbones, else ``out_channels[out_indices[-1]]`` (ResNet); None when
    the backbone says neither."""
    width = getattr(backbone, 'embed_dims', None)
    if width is not None:
        return int(width)
    channels = getattr(backbone, 'out_channels', None)
    indices = getattr(backbone, 'out_indices', None)
    if isinstance(channels, (tuple, list)) and indices:
        return int(channels[indices[-1]])
    return None


def num_prefix_tokens(backbone: nn.Module) -> int:
    """Leading non-patch tokens in the backbone's token outputs."""
    return int(getattr(backbone, 'num_prefix_tokens', 0))


def pool_feature(feature: torch.Tensor, pool: str = 'avg',
                 prefix_tokens: int = 0) -> torch.Tensor:
    """(B, P + N, D) tokens or (B, C, H, W) map -> (B, D) or (B, C).

    Args:
        feature: One layer's output.
        pool: 'avg' averages the N patch tokens (iGPT's choice) or the map's
            positions (global average pooling); 'cls' takes the first prefix
            token (tokens only).
        prefix_tokens: P, the number of prefix tokens.
    """
    check_pool(pool)
    if feature.ndim == 4:
        if pool != 'avg':
            raise ConfigError(
                f"pool={pool!r} needs tokens; a feature map of shape "
                f"{tuple(feature.shape)} only pools with 'avg'")
        return feature.mean(dim=(2, 3))
    if feature.ndim != 3:
        raise ValueError('expected (B, N, D) tokens or a (B, C, H, W) map, '
                         f'got shape {tuple(feature.shape)}')
    if pool == 'cls':
        if prefix_tokens < 1:
            raise ConfigError(
                "pool='cls' needs a backbone with a cls token; this one "
                'has no prefix tokens (num_prefix_tokens=0)')
        return feature[:, 0]
    return feature[:, prefix_tokens:].mean(dim=1)


def tokens_to_map(feature: torch.Tensor, prefix_tokens: int = 0,
                  grid: Optional[Sequence[int]] = None) -> torch.Tensor:
    """(B, P + N, D) tokens -> (B, D, h, w) map of the patch tokens.

    A (B, C, H, W) map passes through unchanged.

    Args:
        feature: One layer's output.
        prefix_tokens: P, dropped before reshaping.
        grid: (h, w) with h * w = N, in raster order; a square grid when
            None.
    """
    if feature.ndim == 4:
        return feature
    tokens = feature[:, prefix_tokens:]
    B, N, D = tokens.shape
    if grid is None:
        side = math.isqrt(N)
        if side * side != N:
            raise ValueError(f'{N} patch tokens do not form a square grid; '
                             'pass the grid')
        grid = (side, side)
    if grid[0] * grid[1] != N:
        raise ValueError(f'grid {tuple(grid)} does not hold {N} tokens')
    return tokens.transpose(1, 2).reshape(B, D, grid[0], grid[1])
