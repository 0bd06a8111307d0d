"""ViT weights between pixpretrain, timm and the official MAE release.

pixpretrain's ``VisionTransformer`` has timm's structure with three names
changed: the patch projection is ``patch_embed`` itself (timm:
``patch_embed.proj``) and the MLP is an ``nn.Sequential`` (``mlp.0`` /
``mlp.2`` for timm's ``mlp.fc1`` / ``mlp.fc2``). The official MAE code
builds its encoder from timm's blocks, and its decoder has the names of
pixpretrain's ``MAEDecoder``.
"""
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from .rules import Rule, StateDict, convert_keys, inverted, prefixed

Converted = Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str]]


def _block_rules(source: str, target: str) -> List[Rule]:
    """A timm ``Block`` (source names) -> pixpretrain ``TransformerBlock``."""
    return [
        (f'{source}.{{i}}.norm1.{{p}}', f'{target}.{{i}}.norm1.{{p}}'),
        (f'{source}.{{i}}.attn.qkv.{{p}}', f'{target}.{{i}}.attn.qkv.{{p}}'),
        (f'{source}.{{i}}.attn.proj.{{p}}',
         f'{target}.{{i}}.attn.proj.{{p}}'),
        (f'{source}.{{i}}.norm2.{{p}}', f'{target}.{{i}}.norm2.{{p}}'),
        (f'{source}.{{i}}.mlp.fc1.{{p}}', f'{target}.{{i}}.mlp.0.{{p}}'),
        (f'{source}.{{i}}.mlp.fc2.{{p}}', f'{target}.{{i}}.mlp.2.{{p}}'),
    ]


# timm VisionTransformer (class token, no register tokens) -> pixpretrain.
TIMM_VIT_RULES: List[Rule] = [
    ('cls_token', 'cls_token'),
    ('pos_embed', 'pos_embed'),
    ('patch_embed.proj.{p}', 'patch_embed.{p}'),
    *_block_rules('blocks', 'blocks'),
    ('norm.{p}', 'norm.{p}'),
]

# Official MAE decoder -> pixpretrain MAEDecoder.
MAE_DECODER_RULES: List[Rule] = [
    ('mask_token', 'mask_token'),
    ('decoder_pos_embed', 'decoder_pos_embed'),
    ('decoder_embed.{p}', 'decoder_embed.{p}'),
    *_block_rules('decoder_blocks', 'decoder_blocks'),
    ('decoder_norm.{p}', 'decoder_norm.{p}'),
    ('decoder_pred.{p}', 'decoder_pred.{p}'),
]

_CLASSIFIER = [('head.{p}', 'classifier; pixpretrain backbones end '
                'before the classifier')]


def timm_to_pixpretrain_vit(state_dict: StateDict,
                            progress: bool = False) -> Converted:
    """timm ``VisionTransformer`` weights -> pixpretrain ``backbone.*``.

    Args:
        state_dict: timm's ``model.state_dict()`` (class token, position
            embedding including it, ``norm`` before the head).
        progress: Draw a progress bar.

    Returns:
        (``backbone.*`` tensors, ``{left-out key: reason}``); only the
        classifier ``head.*`` is left out.
    """
    return convert_keys(state_dict, prefixed(TIMM_VIT_RULES,
                                             target='backbone.'),
                        _CLASSIFIER,
                        'timm -> pixpretrain' if progress else None)


def mae_to_pixpretrain(state_dict: StateDict,
                       progress: bool = False) -> Converted:
    """Official MAE weights -> pixpretrain MAE ``backbone.*`` and ``neck.*``.

    Encoder-only releases give ``backbone.*`` alone; the releases with the
    decoder give the whole pretrainer's neck too.

    Args:
        state_dict: The ``'model'`` entry of an official MAE checkpoint.
        progress: Draw a progress bar.
    """
    rules = (prefixed(TIMM_VIT_RULES, target='backbone.') +
             prefixed(MAE_DECODER_RULES, target='neck.'))
    return convert_keys(state_dict, rules, _CLASSIFIER,
                        'MAE -> pixpretrain' if progress else None)


def pixpretrain_to_timm_vit(state_dict: StateDict,
                            progress: bool = False) -> Converted:
    """pixpretrain ViT weights -> timm ``VisionTransformer`` names.

    Args:
        state_dict: A pretrainer's state dict (the ``backbone.*`` keys are
            converted; neck, heads and other branches are left out, each
            named with the reason) or a bare ``VisionTransformer``'s.
        progress: Draw a progress bar.

    Returns:
        (timm tensors, ``{left-out key: reason}``). timm's classifier is not
        there: build the timm model with ``num_classes=0`` or load with
        ``strict=False``.
    """
    if any(k.startswith('backbone.') for k in state_dict):
        rules = prefixed(inverted(TIMM_VIT_RULES), source='backbone.')
        others = sorted({k.split('.')[0] for k in state_dict
                         if not k.startswith('backbone.')})
        left_out = [(f'{top}.{{rest}}' if any(
            k.startswith(top + '.') for k in state_dict) else top,
                     'not part of the image backbone') for top in others]
    else:
        rules, left_out = inverted(TIMM_VIT_RULES), []
    return convert_keys(state_dict, rules, left_out,
                        'pixpretrain -> timm' if progress else None)
