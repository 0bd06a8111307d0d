from .autocast_wrapper import AutocastOptimWrapper, cpu_has_native_bf16
from .layer_decay import LayerDecayOptimWrapperConstructor, vit_layer_id
from .skip_nonfinite import (AMP_TO_FP32, CPU_AUTOCAST, FP32_TO_AMP,
                             SkipNonFiniteAutocastOptimWrapper,
                             SkipNonFiniteAmpOptimWrapper, SkipNonFiniteMixin,
                             SkipNonFiniteOptimWrapper, finite_on_every_rank,
                             gradients_are_finite)

__all__ = [
    'AutocastOptimWrapper', 'cpu_has_native_bf16',
    'LayerDecayOptimWrapperConstructor', 'vit_layer_id',
    'SkipNonFiniteOptimWrapper', 'SkipNonFiniteAmpOptimWrapper',
    'SkipNonFiniteMixin', 'gradients_are_finite', 'finite_on_every_rank',
    'FP32_TO_AMP', 'AMP_TO_FP32', 'CPU_AUTOCAST',
    'SkipNonFiniteAutocastOptimWrapper'
]
