from .base import BasePretrainer
from .clip import CLIP
from .igpt import IGPT
from .mae import MAE

__all__ = ['BasePretrainer', 'CLIP', 'IGPT', 'MAE']
