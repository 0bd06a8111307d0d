from .base import BasePretrainer
from .mae import MAE

__all__ = ['BasePretrainer', 'MAE']
