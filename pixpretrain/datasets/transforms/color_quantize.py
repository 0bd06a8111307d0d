"""Colour palettes: pixels -> palette token ids -> pixels (iGPT's input).

A palette is a ``(K, 3)`` float array of RGB colours on the 0-255 scale,
saved as ``.npy`` by ``tools/dataset_converters/fit_palette.py``.
"""
import numbers
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from mmcv.transforms import BaseTransform

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .image_ops import _chw, _hwc, _interpolation, _pair_size, _set_image

FIT_PALETTE = 'tools/dataset_converters/fit_palette.py'


def load_palette(path: str, num_colors: Optional[int] = None) -> np.ndarray:
    """Read a palette file, checking its shape.

    Args:
        path: ``.npy`` file of a (K, 3) array, RGB on the 0-255 scale.
        num_colors: Expected K, if the caller knows it.

    Returns:
        (K, 3) float64 array.
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise DataRootNotFoundError(
            f"palette file '{path}' does not exist; fit one on your data "
            f'with `python {FIT_PALETTE} CONFIG` (it writes to the path the '
            'config names), see docs/igpt.md')
    palette = _read_palette(path)
    if palette.ndim != 2 or palette.shape[1] != 3 or not len(palette):
        raise ConfigError(f"palette '{path}' must hold a (K, 3) array of RGB "
                          f'colours, got shape {palette.shape}')
    _check_scale(path, palette)
    if num_colors is not None and len(palette) != num_colors:
        raise ConfigError(
            f"palette '{path}' has {len(palette)} colours but num_colors="
            f'{num_colors}; refit it with `python {FIT_PALETTE} CONFIG '
            f'--num-colors {num_colors}` or change num_colors')
    return palette


def _read_palette(path: str) -> np.ndarray:
    """The array of a ``.npy`` file as float64, or a one-line error naming
    the file and how to make a good one."""
    refit = (f'refit it with `python {FIT_PALETTE} CONFIG` (it writes a '
             '(K, 3) float array, RGB on the 0-255 scale)')
    try:
        palette = np.load(path)
    except (ValueError, EOFError, OSError) as exc:
        # Not a .npy (numpy then refuses to unpickle it), empty, truncated.
        # numpy's word for a non-.npy file suggests unpickling it: not ours.
        reason = ('is empty' if osp.getsize(path) == 0 else
                  'is not a .npy array' if 'pickled' in str(exc) else
                  f'is not a readable .npy array ({exc})')
        raise ConfigError(f"palette '{path}' {reason}; {refit}") from None
    if not isinstance(palette, np.ndarray) or \
            not np.issubdtype(palette.dtype, np.number) or \
            np.iscomplexobj(palette):
        raise ConfigError(f"palette '{path}' holds no real numbers; {refit}")
    return palette.astype(np.float64)


def _check_scale(path: str, palette: np.ndarray) -> None:
    """Refuse colours off the 0-255 scale: a 0-1 palette would quantise
    every image to its brightest colour or two without a word."""
    if not np.isfinite(palette).all():
        raise ConfigError(f"palette '{path}' holds NaN or infinite values; "
                          f'refit it with `python {FIT_PALETTE} CONFIG`')
    low, high = palette.min(), palette.max()
    if low < 0 or high > 255:
        raise ConfigError(
            f"palette '{path}' has values from {low:g} to {high:g}; RGB "
            'colours lie on the 0-255 scale: refit it with '
            f'`python {FIT_PALETTE} CONFIG`')
    if high <= 1 and len(palette) > 1:
        raise ConfigError(
            f"palette '{path}' has values from {low:g} to {high:g}, the 0-1 "
            'scale; palettes are RGB on the 0-255 scale: multiply it by '
            f'255 (or refit it with `python {FIT_PALETTE} CONFIG`)')


def find_color_quantize(pipeline: Sequence[dict]) -> Tuple[int, dict]:
    """Index and config of the ``ColorQuantize`` step of a pipeline config,
    for tools that need the palette and the token grid of a config."""
    for index, step in enumerate(pipeline):
        if isinstance(step, dict) and step.get('type') == 'ColorQuantize':
            return index, step
    raise ConfigError('the pipeline has no ColorQuantize step; an iGPT '
                      'config quantises images with one (see docs/igpt.md)')


def nearest_color(pixels: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Index of the nearest palette colour of every pixel (squared
    Euclidean distance in RGB; the lower index on a tie).

    Args:
        pixels: (N, 3) colours.
        palette: (K, 3) colours, same dtype.

    Returns:
        (N,) int64 indices.
    """
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 is the same for every c:
    # rank by |c|^2 - 2 x.c, one fused (N, K) matrix product.
    scores = torch.addmm(palette.pow(2).sum(1), pixels, palette.T, alpha=-2)
    return scores.argmin(1)


def tokens_to_rgb(tokens: Union[np.ndarray, torch.Tensor],
                  palette: np.ndarray) -> np.ndarray:
    """Palette token ids of any shape ``S`` -> ``S + (3,)`` uint8 RGB."""
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.cpu().numpy()
    return np.clip(np.rint(palette[tokens]), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class ColorQuantize(BaseTransform):
    """Resize the image, then replace every pixel by its palette index.

    Sets ``tokens``, a (h, w) int64 array of ids in ``[0, K)`` (pack them
    with ``PackInputs(inputs_key='tokens')``), and leaves the resized image
    in ``img``.

    Args:
        palette: Path of the palette ``.npy``; a clear error names
            ``tools/dataset_converters/fit_palette.py`` when it is missing.
        size: Token grid (h, w), or an int for a square: 32 by default;
            iGPT uses 32, 48 and 64, 16 and 24 are handy on a CPU.
        num_colors: Expected palette size K (checked), e.g. the model's.
        interpolation: Downsampling filter: 'bilinear', 'bicubic' or
            'nearest' (antialiased, torchvision's).
    """

    def __init__(self, palette: str, size: Union[int, Sequence[int]] = 32,
                 num_colors: Optional[int] = None,
                 interpolation: str = 'bilinear') -> None:
        if num_colors is not None and (
                not isinstance(num_colors, numbers.Integral)
                or num_colors < 2):
            raise ConfigError(
                f'num_colors must be an int >= 2, got {num_colors!r}')
        self.size = _pair_size(size, 'ColorQuantize')
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation)
        self.palette_path = palette
        self.palette = load_palette(palette, num_colors)
        self._palette = torch.from_numpy(self.palette)

    def resize(self, img: np.ndarray) -> np.ndarray:
        """HWC uint8 -> the configured (h, w), unchanged if already there."""
        if img.shape[:2] == self.size:
            return img
        return _hwc(TF.resize(_chw(img), list(self.size),
                              interpolation=self._mode, antialias=True))

    def quantize(self, img: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 -> (h, w) int64 palette indices."""
        # float64: integer colours against float centres leave near-ties
        # that float32's rounding could flip.
        pixels = torch.from_numpy(img.reshape(-1, 3).astype(np.float64))
        return nearest_color(pixels, self._palette).numpy().reshape(
            img.shape[:2])

    def transform(self, results: dict) -> dict:
        """Resize ``results['img']`` and set ``results['tokens']``.

        Args:
            results (dict): Must hold ``img`` (HWC uint8 RGB).

        Returns:
            dict: ``results`` with ``img``, ``img_shape`` and ``tokens``.
        """
        img = self.resize(results['img'])
        results['tokens'] = self.quantize(img)
        return _set_image(results, img)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(palette={self.palette_path!r}, '
                f'size={self.size}, num_colors={len(self.palette)}, '
                f'interpolation={self.interpolation!r})')
