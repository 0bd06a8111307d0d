from .text_transformer import TextTransformer
from .vit import VisionTransformer

__all__ = ['TextTransformer', 'VisionTransformer']
