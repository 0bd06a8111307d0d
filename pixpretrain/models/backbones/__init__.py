from .pixel_gpt import PixelGPT
from .text_transformer import TextTransformer
from .vit import VisionTransformer

__all__ = ['PixelGPT', 'TextTransformer', 'VisionTransformer']
