from .layer_decay import LayerDecayOptimWrapperConstructor, vit_layer_id
from .skip_nonfinite import (AMP_TO_FP32, FP32_TO_AMP,
                             SkipNonFiniteAmpOptimWrapper, SkipNonFiniteMixin,
                             SkipNonFiniteOptimWrapper, finite_on_every_rank,
                             gradients_are_finite)

__all__ = [
    'LayerDecayOptimWrapperConstructor', 'vit_layer_id',
    'SkipNonFiniteOptimWrapper', 'SkipNonFiniteAmpOptimWrapper',
    'SkipNonFiniteMixin', 'gradients_are_finite', 'finite_on_every_rank',
    'FP32_TO_AMP', 'AMP_TO_FP32'
]
