from .fsdp2 import FSDP2Strategy
from .sharding import (BLOCK_TYPES, shard_model, sharding_blocks,
                       sharding_units)

__all__ = ['FSDP2Strategy', 'BLOCK_TYPES', 'shard_model', 'sharding_blocks',
           'sharding_units']
