"""Vision Transformer (Dosovitskiy et al.) with the hooks MAE needs."""
import math
import numbers
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (TransformerBlock, check_num_heads, check_positive_int,
                     divisors, init_transformer_weights, resolve_out_indices,
                     run_intermediates, sincos_2d)

ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads', 'mlp_ratio')


def arch_presets(**rows: Tuple[int, int, int, float]) -> Dict[str, dict]:
    """Arch presets, one ``name=(embed_dims, num_layers, num_heads,
    mlp_ratio)`` each, as the dicts :func:`resolve_arch` reads.

    Args:
        **rows: The presets by name.
    """
    return {name: dict(zip(ARCH_KEYS, row)) for name, row in rows.items()}


# width, depth, heads, MLP ratio (ViT paper, Table 1; DeiT for t and s)
ARCHS = arch_presets(t=(192, 12, 3, 4.0), s=(384, 12, 6, 4.0),
                     b=(768, 12, 12, 4.0), l=(1024, 24, 16, 4.0),
                     h=(1280, 32, 16, 4.0))
ARCH_ALIASES = {
    'tiny': 't', 'small': 's', 'base': 'b', 'large': 'l', 'huge': 'h',
    'deit-tiny': 't', 'deit-small': 's'
}


def resolve_arch(arch: Union[str, dict],
                 archs: Dict[str, dict],
                 aliases: Optional[Dict[str, str]] = None,
                 key: str = 'backbone.arch') -> dict:
    """An arch preset by name (or alias), or a custom dict, checked.

    Args:
        arch: A preset name or a dict with the presets' keys
            (``embed_dims``, ``num_layers``, ``num_heads``, ``mlp_ratio``).
        archs: The presets.
        aliases: Other names of presets.
        key: Config key of ``arch``, for the messages.

    Returns:
        dict: The settings.

    Raises:
        ConfigError: Naming ``key`` and what is allowed, for an unknown
            name, a dict with keys missing, or values out of range (heads
            that do not divide the width, ...).
    """
    required = sorted(next(iter(archs.values())))
    if isinstance(arch, str):
        name = (aliases or {}).get(arch.lower(), arch.lower())
        if name not in archs:
            names = ', '.join(f"'{n}'" for n in sorted(archs))
            others = ', '.join(f"'{n}'" for n in sorted(aliases or {}))
            raise bad_value(
                key, arch,
                f'unknown arch (allowed: {names}'
                f"{f'; aliases {others}' if others else ''}; or a dict with "
                f"keys {', '.join(required)})")
        return dict(archs[name])
    if not isinstance(arch, dict):
        raise bad_value(key, arch, 'must be a preset name or a dict (allowed: '
                        f"{', '.join(sorted(archs))} or a dict with keys "
                        f"{', '.join(required)})")
    missing = sorted(set(required) - set(arch))
    if missing:
        raise bad_value(key, arch, f"misses keys {', '.join(missing)} "
                        f"(allowed: a dict with keys {', '.join(required)})")
    for int_key in ('embed_dims', 'num_layers'):
        if int_key in arch:
            check_positive_int(f'{key}.{int_key}', arch[int_key])
    if 'num_heads' in arch:
        check_num_heads(arch['num_heads'], arch['embed_dims'],
                        f'{key}.num_heads', f'{key}.embed_dims')
    ratio = arch.get('mlp_ratio', 1.0)
    if not isinstance(ratio, numbers.Real) or not ratio > 0:
        raise bad_value(f'{key}.mlp_ratio', ratio,
                        'must be a positive width ratio (allowed: > 0, '
                        'usually 4.0)')
    return dict(arch)


def check_patch_size(img_size: Sequence[int], patch_size: int) -> None:
    """The patch side must tile the image exactly.

    Args:
        img_size: (h, w) of the input.
        patch_size: Patch side.

    Raises:
        ConfigError: Naming ``backbone.img_size`` and the patch sizes that
            would tile it.
    """
    for side in img_size:
        check_positive_int('backbone.img_size', side)
    check_positive_int('backbone.patch_size', patch_size)
    if any(side % patch_size for side in img_size):
        allowed = ', '.join(
            str(d) for d in divisors(math.gcd(*img_size)))
        raise bad_value(
            'backbone.img_size', tuple(img_size),
            f'must be divisible by backbone.patch_size = {patch_size} '
            f'(allowed patch sizes for this img_size: {allowed}; or an '
            f'img_size that is a multiple of {patch_size})')


def set_arch(backbone: nn.Module,
             arch: Union[str, dict],
             archs: Dict[str, dict],
             aliases: Optional[Dict[str, str]] = None) -> dict:
    """Resolve ``arch`` with :func:`resolve_arch` and set the backbone's
    ``embed_dims``, ``num_layers`` and ``num_heads`` from it: necks, heads
    and algorithms read those three from any transformer backbone.

    Args:
        backbone: The backbone being built.
        arch: A preset name or a dict with the presets' keys.
        archs: The presets.
        aliases: Other names of presets.

    Returns:
        dict: The settings (``mlp_ratio`` too).
    """
    settings = resolve_arch(arch, archs, aliases)
    backbone.embed_dims = settings['embed_dims']
    backbone.num_layers = settings['num_layers']
    backbone.num_heads = settings['num_heads']
    return settings


@MODELS.register_module()
class VisionTransformer(BaseModule):
    """ViT encoder: patch embedding, cls token, pre-norm blocks, final norm.

    The encoder is split into :meth:`embed` (patches + positions) and
    :meth:`encode` (cls token + blocks + norm), so an algorithm can drop tokens
    in between (MAE, FLIP) without the backbone's outputs changing type.

    Args:
        arch: 't', 's', 'b', 'l', 'h' or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads``, ``mlp_ratio``.
        img_size: Input resolution (square int or (h, w)).
        patch_size: Patch side; must divide ``img_size``.
        in_channels: Image channels.
        pos_embed: 'sincos' (fixed 2-D, as MAE) or 'learned'.
        out_indices: Blocks whose outputs :meth:`forward` returns (negative
            indices count from the end); the last block's output is normed.
        drop_path_rate: Stochastic depth, linearly increasing over blocks.
        qkv_bias: Bias in the attention QKV projection.
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained', ...)``.
    """

    #: Tokens before the patch tokens in every output (the cls token);
    #: poolers and classifier heads read it to find the patches.
    num_prefix_tokens = 1

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 pos_embed: str = 'sincos',
                 out_indices: Union[int, Sequence[int]] = -1,
                 drop_path_rate: float = 0.0,
                 qkv_bias: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        settings = set_arch(self, arch, ARCHS, ARCH_ALIASES)
        self.img_size = ((img_size, img_size) if isinstance(img_size, int)
                         else tuple(img_size))
        self.patch_size = patch_size
        check_patch_size(self.img_size, patch_size)
        self.grid = (self.img_size[0] // patch_size,
                     self.img_size[1] // patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.in_channels = in_channels

        self.patch_embed = nn.Conv2d(in_channels, self.embed_dims,
                                     patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        if pos_embed == 'sincos':
            self.register_buffer(
                'pos_embed',
                sincos_2d(self.embed_dims, *self.grid, cls_token=True),
                persistent=True)
        elif pos_embed == 'learned':
            self.pos_embed = nn.Parameter(
                torch.zeros(1, 1 + self.num_patches, self.embed_dims))
        else:
            raise ConfigError(
                f"pos_embed must be 'sincos' or 'learned', got '{pos_embed}'")

        rates = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.blocks = nn.ModuleList(
            TransformerBlock(self.embed_dims, self.num_heads,
                             settings['mlp_ratio'], qkv_bias=qkv_bias,
                             drop_path=rate) for rate in rates)
        self.norm = nn.LayerNorm(self.embed_dims, eps=1e-6)
        self.out_indices = resolve_out_indices(out_indices, self.num_layers)
        self._init_as_mae()

    def _init_as_mae(self) -> None:
        self.apply(init_transformer_weights)
        # The patch projection is a linear map of each patch: init it as one.
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        nn.init.normal_(self.cls_token, std=0.02)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, D) patch tokens with position embedding."""
        if tuple(images.shape[-2:]) != self.img_size:
            raise ValueError(
                f'expected {self.img_size} images, got '
                f'{tuple(images.shape[-2:])}')
        tokens = self.patch_embed(images).flatten(2).transpose(1, 2)
        return tokens + self.pos_embed[:, 1:]

    def _prepend_cls(self, tokens: torch.Tensor) -> torch.Tensor:
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(
            tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L', D) tokens (all or a visible subset) -> (B, 1 + L', D).

        Prepends the cls token, runs every block and the final LayerNorm.
        """
        x = self._prepend_cls(tokens)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward_intermediates(self, images: torch.Tensor,
                              layers: Sequence[int]) -> List[torch.Tensor]:
        """Outputs of the given blocks, each (B, 1 + L, D), cls token first.

        Blocks after the deepest requested one are not run. The last block's
        output passes the final LayerNorm, as in :meth:`encode`.
        """
        return run_intermediates(self._prepend_cls(self.embed(images)),
                                 self.blocks, layers, last=self.norm)

    def forward(self, images: torch.Tensor) -> tuple:
        """Outputs of ``out_indices`` blocks, each (B, 1 + L, D)."""
        return tuple(self.forward_intermediates(images, self.out_indices))
