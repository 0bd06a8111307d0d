from .fsdp2 import BLOCK_TYPES, FSDP2Strategy, model_parts

__all__ = ['FSDP2Strategy', 'BLOCK_TYPES', 'model_parts']
