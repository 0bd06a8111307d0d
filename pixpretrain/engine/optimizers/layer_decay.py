"""Layer-wise learning-rate decay (BEiT / MAE fine-tuning)."""
from typing import List

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from pixpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS

# Parameters that never take weight decay besides biases and norms.
NO_DECAY_NAMES = ('pos_embed', 'cls_token', 'mask_token')


def vit_layer_id(name: str, num_layers: int) -> int:
    """0 for the embeddings, i + 1 for block i, num_layers + 1 for the rest."""
    if any(key in name for key in ('patch_embed', ) + NO_DECAY_NAMES):
        return 0
    if 'blocks.' in name:
        return int(name.split('blocks.')[1].split('.')[0]) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """lr of a ViT parameter at depth d is ``lr * layer_decay_rate ** (L + 1 - d)``.

    Block i of L sits at depth i + 1, the embeddings at 0, the final norm and
    heads at L + 1 (full lr). Biases, norm weights (any 1-D parameter) and
    position / cls / mask tokens take no weight decay.

    ``paramwise_cfg=dict(layer_decay_rate=0.65)`` (MAE's value for ViT-B);
    the model's ``backbone.num_layers`` gives L.
    """

    # All it reads from paramwise_cfg (not mmengine's own multipliers: it
    # groups the parameters itself); the config check refuses other keys.
    paramwise_keys = ('layer_decay_rate', )

    def add_params(self, params: List[dict], module: nn.Module,
                   prefix: str = '', **kwargs) -> None:
        rate = self.paramwise_cfg.get('layer_decay_rate', 1.0)
        num_layers = module.backbone.num_layers
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer = vit_layer_id(name, num_layers)
            no_decay = param.ndim == 1 or any(k in name
                                              for k in NO_DECAY_NAMES)
            params.append(dict(
                params=[param],
                lr=self.base_lr * rate**(num_layers + 1 - layer),
                weight_decay=0.0 if no_decay else self.base_wd))
