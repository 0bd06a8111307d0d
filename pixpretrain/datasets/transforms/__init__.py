"""Pipeline transforms: every one takes and returns an mmcv-style results
dict whose ``img`` is an HWC uint8 RGB array."""
from .decode_crop import LoadRandomResizedCrop, decode_reduced, jpeg_reduction
from .formatting import PackInputs
from .loading import LoadImageFromFile, pil_to_rgb_array
from .processing import CenterCrop, RandomFlip, RandomResizedCrop, Resize

__all__ = [
    'LoadImageFromFile', 'pil_to_rgb_array', 'RandomResizedCrop',
    'RandomFlip', 'Resize', 'CenterCrop', 'PackInputs',
    'LoadRandomResizedCrop', 'decode_reduced', 'jpeg_reduction'
]
