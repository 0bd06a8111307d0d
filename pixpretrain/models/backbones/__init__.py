from .pixel_gpt import PixelGPT
from .resnet import ResNet
from .text_transformer import TextTransformer
from .timm_backbone import TimmBackbone
from .vit import VisionTransformer

__all__ = [
    'PixelGPT', 'ResNet', 'TextTransformer', 'TimmBackbone',
    'VisionTransformer'
]
