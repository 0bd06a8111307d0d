from .base import BasePretrainer
from .igpt import IGPT
from .mae import MAE

__all__ = ['BasePretrainer', 'MAE', 'IGPT']
