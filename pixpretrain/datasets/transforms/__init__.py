"""Pipeline transforms: every one takes and returns an mmcv-style results
dict whose ``img`` is an HWC uint8 RGB array."""
from .augment import ColorJitter, GaussianBlur, RandomGrayscale, Solarize
from .color_quantize import (ColorQuantize, load_palette, nearest_color,
                             tokens_to_rgb)
from .decode_crop import LoadRandomResizedCrop, decode_reduced, jpeg_reduction
from .formatting import PackInputs
from .jpeg import decode_rgb_jpeg, jpeg_frame, rgb_jpeg_size
from .loading import (LoadImageFromFile, decode_full, image_read_errors,
                      open_bytes, pil_to_rgb_array, read_file, read_rgb)
from .multi_view import MultiView
from .processing import (CenterCrop, RandomFlip, RandomResizedCrop, Resize,
                         flip_image)
from .text import TokenizeText

__all__ = [
    'LoadImageFromFile',
    'pil_to_rgb_array',
    'read_rgb',
    'read_file',
    'open_bytes',
    'jpeg_frame',
    'rgb_jpeg_size',
    'decode_rgb_jpeg',
    'image_read_errors',
    'RandomResizedCrop',
    'RandomFlip',
    'flip_image',
    'Resize',
    'CenterCrop',
    'PackInputs',
    'ColorJitter',
    'RandomGrayscale',
    'GaussianBlur',
    'Solarize',
    'MultiView',
    'TokenizeText',
    'ColorQuantize',
    'load_palette',
    'nearest_color',
    'tokens_to_rgb',
    'LoadRandomResizedCrop',
    'decode_full',
    'decode_reduced',
    'jpeg_reduction'
]
