"""Vision Transformer (Dosovitskiy et al.) with the hooks MAE needs."""
import math
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (TransformerBlock, check_positive_int, divisors,
                     drop_path_rates, init_transformer_weights,
                     resolve_out_indices, run_intermediates, sincos_2d)
from ..utils.input_checks import check_image_batch
from .arch import arch_presets, set_arch

# width, depth, heads, MLP ratio (ViT paper, Table 1; DeiT for t and s)
ARCHS = arch_presets(t=(192, 12, 3, 4.0), s=(384, 12, 6, 4.0),
                     b=(768, 12, 12, 4.0), l=(1024, 24, 16, 4.0),
                     h=(1280, 32, 16, 4.0))
ARCH_ALIASES = {
    'tiny': 't', 'small': 's', 'base': 'b', 'large': 'l', 'huge': 'h',
    'deit-tiny': 't', 'deit-small': 's'
}


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
        pre_norm: A LayerNorm on the tokens before the first block (CLIP's
            ``ln_pre``; OpenCLIP weights need it).
        layer_norm_eps: Epsilon of every LayerNorm (1e-5 in CLIP).
        patch_bias: Bias in the patch projection (CLIP's has none).
        with_cp: Activation checkpointing of every block: keep only each
            block's input for the backward pass and recompute the rest
            there (less memory, about a third more compute).
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
                 pre_norm: bool = False,
                 layer_norm_eps: float = 1e-6,
                 patch_bias: bool = True,
                 with_cp: bool = False,
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
                                     patch_size, stride=patch_size,
                                     bias=patch_bias)
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

        rates = drop_path_rates(drop_path_rate, self.num_layers)
        self.blocks = nn.ModuleList(
            TransformerBlock(self.embed_dims, self.num_heads,
                             settings['mlp_ratio'], qkv_bias=qkv_bias,
                             drop_path=rate, layer_norm_eps=layer_norm_eps,
                             with_cp=with_cp)
            for rate in rates)
        self.norm = nn.LayerNorm(self.embed_dims, eps=layer_norm_eps)
        # An Identity has no state, so checkpoints without it keep loading.
        self.pre_norm = nn.LayerNorm(self.embed_dims, eps=layer_norm_eps) \
            if pre_norm else nn.Identity()
        self.out_indices = resolve_out_indices(out_indices, self.num_layers)
        self._init_as_mae()

    def _init_as_mae(self) -> None:
        self.apply(init_transformer_weights)
        # The patch projection is a linear map of each patch: init it as one.
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if self.patch_embed.bias is not None:
            nn.init.zeros_(self.patch_embed.bias)
        nn.init.normal_(self.cls_token, std=0.02)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, D) patch tokens with position embedding."""
        check_image_batch(images, type(self).__name__)
        if tuple(images.shape[-2:]) != self.img_size:
            raise ConfigError(
                f'the ViT expects {self.img_size} images (backbone.img_size)'
                f', got {tuple(images.shape[-2:])}: crop or resize to that '
                'size in the pipeline, or set backbone.img_size')
        tokens = self.patch_embed(images).flatten(2).transpose(1, 2)
        return tokens + self.pos_embed[:, 1:]

    def _prepend_cls(self, tokens: torch.Tensor) -> torch.Tensor:
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(
            tokens.shape[0], -1, -1)
        return self.pre_norm(torch.cat([cls, tokens], dim=1))

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
