from .batch_shuffle import batch_shuffle, batch_unshuffle
from .checkpointing import (checkpoint_forward, checkpointed,
                            checkpointed_sequence, running_stats_kept)
from .batch_augments import MixupCutmix, cutmix, cutmix_box, mixup
from .data_preprocessor import PixelDataPreprocessor
from .distributed import (concat_all_gather, ema_update_, gather_with_grad,
                          rank, unwrap_model, world_size)
from .intermediates import (layer_index, resolve_out_indices,
                            run_intermediates)
from .norm import SplitBatchNorm, norm_layer_factory
from .patches import patchify, random_masking, unpatchify
from .pooling import (POOLS, check_pool, feature_width, num_prefix_tokens,
                      pool_feature, tokens_to_map)
from .pos_embed import sincos_1d, sincos_2d
from .token_preprocessor import TokenDataPreprocessor
from .transformer import (DropPath, MultiheadCrossAttention,
                          MultiheadSelfAttention, TransformerBlock,
                          check_num_heads, check_positive_int, divisors,
                          drop_path_rates, init_transformer_weights)

__all__ = [
    'PixelDataPreprocessor',
    'TokenDataPreprocessor',
    'patchify',
    'unpatchify',
    'random_masking',
    'sincos_1d',
    'sincos_2d',
    'DropPath',
    'MultiheadCrossAttention',
    'MultiheadSelfAttention',
    'TransformerBlock',
    'init_transformer_weights',
    'check_num_heads',
    'check_positive_int',
    'drop_path_rates',
    'divisors',
    'feature_width',
    'concat_all_gather',
    'gather_with_grad',
    'ema_update_',
    'rank',
    'world_size',
    'unwrap_model',
    'batch_shuffle',
    'batch_unshuffle',
    'SplitBatchNorm',
    'norm_layer_factory',
    'MixupCutmix',
    'mixup',
    'cutmix',
    'cutmix_box',
    'POOLS',
    'check_pool',
    'num_prefix_tokens',
    'pool_feature',
    'tokens_to_map',
    'layer_index',
    'resolve_out_indices',
    'run_intermediates',
    'checkpointed',
    'checkpoint_forward',
    'checkpointed_sequence',
    'running_stats_kept',
]
