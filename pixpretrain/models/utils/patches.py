"""Patch bookkeeping shared by MAE and its pictures: patchify, masking."""
from typing import Optional, Tuple

import torch


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p * p * C), patches in raster order.

    Each patch is flattened row by row, channels last (the official MAE
    layout), so a prediction head's output reshapes back the same way.
    """
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError(f'image size {H}x{W} is not divisible by patch {p}')
    h, w = H // p, W // p
    x = images.reshape(B, C, h, p, w, p)
    x = torch.einsum('nchpwq->nhwpqc', x)
    return x.reshape(B, h * w, p * p * C)


def unpatchify(patches: torch.Tensor, patch_size: int,
               grid: Tuple[int, int], channels: int = 3) -> torch.Tensor:
    """(B, L, p * p * C) -> (B, C, H, W); the inverse of :func:`patchify`."""
    B = patches.shape[0]
    h, w = grid
    p = patch_size
    x = patches.reshape(B, h, w, p, p, channels)
    x = torch.einsum('nhwpqc->nchpwq', x)
    return x.reshape(B, channels, h * p, w * p)


def random_masking(
    tokens: torch.Tensor,
    mask_ratio: float,
    noise: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random subset of tokens per sample (MAE's per-image shuffle).

    Exactly ``round(L * (1 - mask_ratio))`` tokens stay visible in every
    image, chosen independently per image by sorting uniform noise.

    Args:
        tokens: (B, L, C) patch tokens.
        mask_ratio: Fraction of tokens removed, in (0, 1).
        noise: Optional (B, L) values whose ascending order decides which
            tokens stay (for reproducible tests); uniform noise by default.

    Returns:
        visible: (B, L_keep, C) the kept tokens, in shuffled order.
        mask: (B, L) 1 for removed tokens, 0 for kept ones, original order.
        ids_restore: (B, L) indices that undo the shuffle.
    """
    B, L, C = tokens.shape
    len_keep = int(round(L * (1 - mask_ratio)))
    if noise is None:
        noise = torch.rand(B, L, device=tokens.device)
    ids_shuffle = torch.argsort(noise, dim=1)  # ascending: small noise kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    visible = torch.gather(tokens, 1, ids_keep[..., None].expand(-1, -1, C))
    mask = torch.ones(B, L, device=tokens.device, dtype=tokens.dtype)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return visible, mask, ids_restore
