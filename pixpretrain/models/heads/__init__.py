from .mae_head import MAEHead
from .pixel_heads import ARPixelHead, MaskedPixelHead

__all__ = ['MAEHead', 'ARPixelHead', 'MaskedPixelHead']
