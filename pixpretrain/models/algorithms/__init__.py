from .base import BasePretrainer
from .clip import CLIP
from .mae import MAE

__all__ = ['BasePretrainer', 'CLIP', 'MAE']
