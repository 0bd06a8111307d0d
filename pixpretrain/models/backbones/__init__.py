from .resnet import ResNet
from .vit import VisionTransformer

__all__ = ['ResNet', 'VisionTransformer']
