from .mae_head import MAEHead

__all__ = ['MAEHead']
