"""Fixed sine-cosine position embeddings (MAE, Appendix A.1)."""
import torch


def sincos_1d(embed_dims: int, positions: torch.Tensor) -> torch.Tensor:
    """Sin-cos embedding of 1-D positions.

    Args:
        embed_dims: Output width D (even).
        positions: (M,) positions.

    Returns:
        (M, D): ``[sin(p * w_i), cos(p * w_i)]`` with w_i = 10000^(-2i/D).
    """
    if embed_dims % 2:
        raise ValueError(f'embed_dims must be even, got {embed_dims}')
    omega = torch.arange(embed_dims // 2, dtype=torch.float64)
    omega = 1.0 / 10000**(omega / (embed_dims / 2))
    angles = positions.double()[:, None] * omega[None]  # (M, D/2)
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def sincos_2d(embed_dims: int, grid_h: int, grid_w: int,
              cls_token: bool = False) -> torch.Tensor:
    """2-D sin-cos embedding: half the channels encode rows, half columns.

    Returns:
        (1, [1 +] grid_h * grid_w, D) in raster order; the cls position, when
        asked for, is all zeros.
    """
    if embed_dims % 4:
        raise ValueError(f'embed_dims must be divisible by 4, got {embed_dims}')
    rows, cols = torch.meshgrid(
        torch.arange(grid_h), torch.arange(grid_w), indexing='ij')
    # Columns first, as the official MAE code orders the two halves.
    emb = torch.cat([
        sincos_1d(embed_dims // 2, cols.flatten()),
        sincos_1d(embed_dims // 2, rows.flatten())
    ], dim=1)
    if cls_token:
        emb = torch.cat([emb.new_zeros(1, embed_dims), emb], dim=0)
    return emb[None]
