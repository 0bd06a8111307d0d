"""Pipeline transforms: every one takes and returns an mmcv-style results
dict whose ``img`` is an HWC uint8 RGB array."""
from .color_quantize import (ColorQuantize, completion_grid, load_palette,
                             nearest_color, tokens_to_rgb)
from .formatting import PackInputs
from .loading import LoadImageFromFile, pil_to_rgb_array
from .processing import CenterCrop, RandomFlip, RandomResizedCrop, Resize
from .text import TokenizeText

__all__ = [
    'LoadImageFromFile', 'pil_to_rgb_array', 'RandomResizedCrop',
    'RandomFlip', 'Resize', 'CenterCrop', 'PackInputs', 'TokenizeText',
    'ColorQuantize', 'load_palette', 'nearest_color', 'tokens_to_rgb', 'completion_grid'
]
