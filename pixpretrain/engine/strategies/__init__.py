from .fsdp2 import (BLOCK_TYPES, FSDP2Strategy, shard_model,
                    sharding_blocks, sharding_units)

__all__ = ['FSDP2Strategy', 'BLOCK_TYPES', 'shard_model', 'sharding_blocks',
           'sharding_units']
