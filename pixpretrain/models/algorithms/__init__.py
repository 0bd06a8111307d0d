from .base import BasePretrainer
from .mae import MAE
from .moco import MoCo, cosine_momentum

__all__ = ['BasePretrainer', 'MAE', 'MoCo', 'cosine_momentum']
