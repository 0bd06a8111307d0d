from .layer_decay import LayerDecayOptimWrapperConstructor, vit_layer_id

__all__ = ['LayerDecayOptimWrapperConstructor', 'vit_layer_id']
