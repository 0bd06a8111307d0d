from .base import BasePretrainer
from .clip import CLIP
from .coca import CoCa
from .igpt import IGPT
from .image_captioner import ImageCaptioner
from .image_classifier import ImageClassifier
from .mae import MAE
from .moco import MoCo, cosine_momentum

__all__ = [
    'BasePretrainer',
    'CLIP',
    'CoCa',
    'IGPT',
    'MAE',
    'MoCo',
    'cosine_momentum',
    'ImageCaptioner',
    'ImageClassifier'
]
