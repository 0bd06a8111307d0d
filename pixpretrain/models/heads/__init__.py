from .caption_head import CaptionHead, caption_loss
from .contrastive_text_head import ContrastiveTextHead
from .cls_head import ClsHead, GlobalLocalClsHead, LinearClsHead
from .mae_head import MAEHead
from .masked_caption_head import MaskedCaptionHead
from .moco_head import MoCoQueueHead
from .pixel_heads import ARPixelHead, MaskedPixelHead, PixelClsHead

__all__ = [
    'ARPixelHead',
    'CaptionHead',
    'MaskedCaptionHead',
    'caption_loss',
    'ContrastiveTextHead',
    'MAEHead',
    'MaskedPixelHead',
    'MoCoQueueHead',
    'PixelClsHead',
    'ClsHead',
    'LinearClsHead',
    'GlobalLocalClsHead'
]
