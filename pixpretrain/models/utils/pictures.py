"""Pictures of what a model predicts: the drawing protocol and the tiling.

An algorithm that can draw defines ``pictures(inputs) -> {name: (H, W, C)
uint8}``: it decides what each row shows (MAE: original | masked |
prediction | prediction + visible; iGPT: original | kept half |
completions) and lays the panels out with :func:`tile`.
:func:`model_pictures` calls it the way every caller should (eval mode, no
gradients, output checked); ``ReconstructionHook`` only calls that and
saves the result. Engine, models and tools can all import this module.
"""
from typing import Dict, Sequence

import numpy as np
import torch

from pixpretrain.datasets.transforms.color_quantize import tokens_to_rgb

Pictures = Dict[str, np.ndarray]


def tile(rows: Sequence[Sequence[np.ndarray]], gap: int = 0,
         scale: int = 1) -> np.ndarray:
    """Panels laid out row by row into one picture.

    Args:
        rows: One sequence of (h, w, C) uint8 panels per row; every panel
            has the same height within a row and every row the same width.
        gap: Pixels of white between neighbouring panels and rows.
        scale: Nearest-neighbour upscaling of the whole picture.

    Returns:
        (sum of heights + gaps, width + gaps, C) uint8 picture, scaled.
    """
    lines = [_join(panels, gap, axis=1) for panels in rows]
    picture = _join(lines, gap, axis=0)
    return picture.repeat(scale, axis=0).repeat(scale, axis=1)


def _join(parts: Sequence[np.ndarray], gap: int, axis: int) -> np.ndarray:
    """Concatenate ``parts`` along ``axis`` with ``gap`` white lines
    between each two."""
    if gap == 0:
        return np.concatenate(parts, axis=axis)
    shape = list(parts[0].shape)
    shape[axis] = gap
    white = np.full(shape, 255, parts[0].dtype)
    return np.concatenate([x for p in parts for x in (p, white)][:-1],
                          axis=axis)


def completion_grid(tokens: np.ndarray, samples: np.ndarray, kept: int,
                    palette: np.ndarray, scale: int = 1) -> np.ndarray:
    """iGPT's picture, one row per image: original | kept half (rest grey)
    | completions.

    Args:
        tokens: (B, H, W) original tokens.
        samples: (B, S, H, W) completed tokens.
        kept: Rows of tokens given to the model.
        palette: (K, 3) colours.
        scale: Nearest-neighbour upscaling.

    Returns:
        (B * (H + 2) - 2, (S + 2) * (W + 2) - 2, 3) uint8 picture (scaled),
        panels separated by 2 px of white.
    """
    rows = []
    for original, completions in zip(tokens, samples):
        image = tokens_to_rgb(original, palette)
        half = image.copy()
        half[kept:] = 128
        rows.append([image, half] +
                    [tokens_to_rgb(s, palette) for s in completions])
    return tile(rows, gap=2, scale=scale)


def model_pictures(model: torch.nn.Module, images: torch.Tensor) -> Pictures:
    """Named pictures a model draws of ``images``, through its
    ``pictures(images) -> {name: (H, W, C) uint8}``.

    Called in eval mode without gradients; the model's mode is restored.

    Args:
        model: The (unwrapped) model; it must define ``pictures``.
        images: The batch's inputs on the CPU (uint8 images, or iGPT's
            token grids); ``pictures`` moves them to where it computes.

    Raises:
        TypeError: When a picture is not an HWC uint8 array.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            pictures = model.pictures(images)
    finally:
        model.train(was_training)
    for name, picture in pictures.items():
        if not (isinstance(picture, np.ndarray)
                and picture.dtype == np.uint8 and picture.ndim == 3):
            raise TypeError(
                f'{type(model).__name__}.pictures() must return HWC '
                f"uint8 arrays; '{name}' is {type(picture).__name__} "
                f'{getattr(picture, "dtype", "")} '
                f'{getattr(picture, "shape", "")}')
    return pictures
