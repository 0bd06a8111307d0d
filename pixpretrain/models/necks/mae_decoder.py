"""MAE's lightweight decoder: from visible latents to every patch's pixels."""
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import bad_value
from ..utils import (TransformerBlock, check_num_heads, check_positive_int,
                     init_transformer_weights, sincos_2d)


@MODELS.register_module()
class MAEDecoder(BaseModule):
    """Fill removed positions with a mask token, decode, predict pixels.

    Args:
        num_patches: Patches per image L (the encoder's grid h * w).
        grid: The encoder's patch grid (h, w); square from ``num_patches``
            when omitted.
        patch_size: Patch side p of the encoder.
        in_channels: Image channels C.
        encoder_dims: Width of the encoder's latents.
        decoder_dims: Decoder width (512 in the paper).
        decoder_depth: Decoder blocks (8 in the paper).
        decoder_num_heads: Decoder attention heads (16 in the paper).
        mlp_ratio: MLP width ratio in decoder blocks.
    """

    def __init__(self,
                 num_patches: int = 196,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 encoder_dims: int = 768,
                 decoder_dims: int = 512,
                 decoder_depth: int = 8,
                 decoder_num_heads: int = 16,
                 mlp_ratio: float = 4.0,
                 grid: Optional[Sequence[int]] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if grid is None:
            side = int(round(num_patches**0.5))
            grid = (side, side)
        if grid[0] * grid[1] != num_patches:
            raise bad_value(
                'neck.grid', tuple(grid),
                f'must hold neck.num_patches = {num_patches} patches '
                f'(allowed: (h, w) with h * w = {num_patches})')
        check_positive_int('neck.encoder_dims', encoder_dims)
        check_num_heads(decoder_num_heads, decoder_dims,
                        'neck.decoder_num_heads', 'neck.decoder_dims')
        self.num_patches = num_patches
        self.decoder_embed = nn.Linear(encoder_dims, decoder_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dims))
        self.register_buffer(
            'decoder_pos_embed',
            sincos_2d(decoder_dims, grid[0], grid[1], cls_token=True))
        self.decoder_blocks = nn.ModuleList(
            TransformerBlock(decoder_dims, decoder_num_heads, mlp_ratio)
            for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dims, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_dims,
                                      patch_size**2 * in_channels)
        self.apply(init_transformer_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, latent: torch.Tensor,
                ids_restore: torch.Tensor) -> torch.Tensor:
        """Decode.

        Args:
            latent: (B, 1 + L_keep, D_enc) encoder output, cls token first.
            ids_restore: (B, L) indices undoing the masking shuffle.

        Returns:
            (B, L, p * p * C) predicted pixels of every patch (cls dropped).
        """
        x = self.decoder_embed(latent)  # (B, 1 + L_keep, D)
        B, n_visible, D = x.shape
        L = ids_restore.shape[1]
        fill = self.mask_token.expand(B, L + 1 - n_visible, -1)
        patches = torch.cat([x[:, 1:], fill], dim=1)  # (B, L, D), shuffled
        patches = torch.gather(patches, 1,
                               ids_restore[..., None].expand(-1, -1, D))
        x = torch.cat([x[:, :1], patches], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]
