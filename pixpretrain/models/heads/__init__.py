from .mae_head import MAEHead
from .moco_head import MoCoQueueHead

__all__ = ['MAEHead', 'MoCoQueueHead']
