from .pixel_gpt import PixelGPT
from .resnet import ResNet
from .text_transformer import TextTransformer
from .vit import VisionTransformer

__all__ = ['PixelGPT', 'ResNet', 'TextTransformer', 'VisionTransformer']
