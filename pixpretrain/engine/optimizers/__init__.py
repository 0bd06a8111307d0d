from .autocast_wrapper import AutocastOptimWrapper, cpu_has_native_bf16
from .layer_decay import LayerDecayOptimWrapperConstructor, vit_layer_id

__all__ = [
    'AutocastOptimWrapper', 'cpu_has_native_bf16',
    'LayerDecayOptimWrapperConstructor', 'vit_layer_id'
]
