from .fsdp2 import BLOCK_TYPES, FSDP2Strategy, sharding_units

__all__ = ['FSDP2Strategy', 'BLOCK_TYPES', 'sharding_units']
