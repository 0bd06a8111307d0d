from .pixel_gpt import PixelGPT
from .vit import VisionTransformer

__all__ = ['VisionTransformer', 'PixelGPT']
