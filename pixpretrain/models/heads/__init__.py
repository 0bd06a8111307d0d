from .contrastive_text_head import ContrastiveTextHead
from .mae_head import MAEHead
from .pixel_heads import ARPixelHead, MaskedPixelHead

__all__ = ['ARPixelHead', 'ContrastiveTextHead', 'MAEHead', 'MaskedPixelHead']
