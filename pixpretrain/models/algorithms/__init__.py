from .base import BasePretrainer
from .image_classifier import ImageClassifier
from .mae import MAE

__all__ = ['BasePretrainer', 'ImageClassifier', 'MAE']
