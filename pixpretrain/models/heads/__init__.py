from .cls_head import ClsHead, GlobalLocalClsHead, LinearClsHead
from .mae_head import MAEHead

__all__ = ['MAEHead', 'ClsHead', 'LinearClsHead', 'GlobalLocalClsHead']
