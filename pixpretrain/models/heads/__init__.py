from .contrastive_text_head import ContrastiveTextHead
from .mae_head import MAEHead

__all__ = ['ContrastiveTextHead', 'MAEHead']
