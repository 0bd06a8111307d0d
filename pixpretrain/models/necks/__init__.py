from .mae_decoder import MAEDecoder
from .nonlinear_neck import NonLinearNeck

__all__ = ['MAEDecoder', 'NonLinearNeck']
