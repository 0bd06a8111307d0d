"""mmpretrain 1.2.0 backbones -> pixpretrain's ViT and ResNet.

mmpretrain's ``VisionTransformer`` (and ``MAEViT`` / ``MoCoV3ViT``, which
subclass it) computes what pixpretrain's ``VisionTransformer`` computes:
pre-norm blocks, a position embedding that includes the class token's, a
final LayerNorm (``ln1``) on the last block only, exact GELU, LayerNorm
eps 1e-6. Only the names differ (``layers.N.ln1`` / ``ffn.layers.0.0`` for
``blocks.N.norm1`` / ``mlp.0``). Its ``ResNet`` and ``ResNet_CIFAR`` keep
torchvision's names, which pixpretrain's ``ResNet`` keeps too.

Variants whose tensors have no place in pixpretrain (layer scale, a
pre-norm, ResNet-D's deep stem ...) are refused naming the tensor and the
setting behind it. Settings that change the computation but not the
tensors (a ViT's head count, a ResNet's ``style='caffe'``, strides,
dilations) cannot be seen in a checkpoint: the docs list them.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from .resnet import TORCHVISION_RESNET_RULES, describe_resnet
from .rules import ConversionError, Rule, StateDict, convert_keys, prefixed
from .vit_config import describe_vit

Converted = Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str]]

# mmpretrain VisionTransformer (backbone names) -> pixpretrain.
MMPRETRAIN_VIT_RULES: List[Rule] = [
    ('cls_token', 'cls_token'),
    ('pos_embed', 'pos_embed'),
    ('patch_embed.projection.{p}', 'patch_embed.{p}'),
    ('layers.{i}.ln1.{p}', 'blocks.{i}.norm1.{p}'),
    ('layers.{i}.attn.qkv.{p}', 'blocks.{i}.attn.qkv.{p}'),
    ('layers.{i}.attn.proj.{p}', 'blocks.{i}.attn.proj.{p}'),
    ('layers.{i}.ln2.{p}', 'blocks.{i}.norm2.{p}'),
    # mmcv's FFN: layers.0 = Sequential(Linear, GELU, Dropout), layers.1
    # the second Linear.
    ('layers.{i}.ffn.layers.0.0.{p}', 'blocks.{i}.mlp.0.{p}'),
    ('layers.{i}.ffn.layers.1.{p}', 'blocks.{i}.mlp.2.{p}'),
    ('ln1.{p}', 'norm.{p}'),
]

# mmpretrain's ResNet (BatchNorm, the default) names its layers as
# torchvision does: conv1, bn1, layerS.B.{conv,bn}N, downsample.0/1.
MMPRETRAIN_RESNET_RULES: List[Rule] = list(TORCHVISION_RESNET_RULES)

RULES = {'vit': MMPRETRAIN_VIT_RULES, 'resnet': MMPRETRAIN_RESNET_RULES}

# Backbone tensors of variants pixpretrain does not build: (regex over the
# name without 'backbone.', the mmpretrain setting that makes them).
_UNSUPPORTED = {
    'vit': [
        (r'layers\.\d+\.(attn\.gamma1|ffn\.gamma2)\..+',
         'layer scale (layer_scale_init_value > 0)'),
        (r'layers\.\d+\.ffn\.w(12|3)\..+',
         "a SwiGLU MLP (ffn_type='swiglu_fused')"),
        (r'pre_norm\..+', 'a LayerNorm before the blocks (pre_norm=True, '
         "CLIP's ViT)"),
        (r'ln2\..+', "the LayerNorm after average pooling "
         "(out_type='avg_featmap')"),
        (r'patch_embed\.norm\..+', 'a LayerNorm in the patch embedding '
         '(patch_cfg with norm_cfg)'),
    ],
    'resnet': [
        (r'stem\..+', 'a deep stem (deep_stem=True, ResNetV1c/ResNetV1d)'),
        (r'layer\d\.\d+\.downsample\.2\..+',
         'average-pool shortcuts (avg_down=True, ResNetV1d)'),
        (r'(layer\d\.\d+\.)?(gn|ln|in)\d\..+',
         "a norm other than BatchNorm (norm_cfg type 'GN', 'LN', 'IN')"),
    ],
}

# Backbone tensors pixpretrain's model always has: (name, why it is absent).
_REQUIRED = {
    'vit': [
        ('cls_token', 'the model was built with with_cls_token=False; '
         "pixpretrain's VisionTransformer always has a class token"),
        ('ln1.weight', 'the model was built with final_norm=False; '
         "pixpretrain's VisionTransformer always ends with a LayerNorm"),
        ('patch_embed.projection.bias', 'the patch embedding has no bias '
         "(pre_norm=True or patch_cfg bias=False); pixpretrain's has one"),
    ],
    'resnet': [('conv1.weight', 'no conv1 stem')],
}

# What mmpretrain's algorithms keep beside the backbone, for the report.
_OTHER_PARTS = {
    'neck': "mmpretrain's neck (MAE's decoder, a projector, pooling)",
    'head': "mmpretrain's head (a classifier, a predictor, a loss)",
    'encoder_k': "MoCo v2's momentum encoder (a copy of backbone and neck)",
    'momentum_encoder': 'the momentum encoder (a copy of backbone and '
                        'neck)',
    'target_net': "BYOL's target network",
    'target': 'the target network',
    'teacher': 'the teacher network',
    'queue': "MoCo's queue of negatives",
    'queue_ptr': "MoCo's queue position",
}


def mmpretrain_arch_of(state_dict: StateDict) -> str:
    """'vit' or 'resnet': the family of an mmpretrain model's backbone.

    Args:
        state_dict: An mmpretrain model's state dict (``backbone.*`` keys).

    Raises:
        ConversionError: No ``backbone.*`` tensors, or a backbone of
            another family (Swin, ConvNeXt, ...).
    """
    backbone = [k[len('backbone.'):] for k in state_dict
                if k.startswith('backbone.')]
    if not backbone:
        tops = sorted({k.split('.')[0] for k in state_dict})
        raise ConversionError(
            f"no 'backbone.*' tensors among the {len(state_dict)} in the "
            f'file (top-level names: {", ".join(tops[:6]) or "none"}); '
            "expected the checkpoint of an mmpretrain model (Runner's "
            "'state_dict', or model.state_dict()) with a VisionTransformer, "
            'MAEViT, ResNet or ResNet_CIFAR backbone')
    if 'patch_embed.projection.weight' in backbone and any(
            k.startswith('layers.') for k in backbone):
        return 'vit'
    if any(k.startswith('layer1.') for k in backbone):
        return 'resnet'
    raise ConversionError(
        f'the backbone (first tensor backbone.{backbone[0]}) is neither '
        "mmpretrain's VisionTransformer/MAEViT (backbone.layers.N.*) nor "
        'its ResNet/ResNet_CIFAR (backbone.layer1.*); other architectures '
        '(Swin, ConvNeXt, ...) have no pixpretrain counterpart')


def _refuse_unsupported(backbone: List[str], arch: str) -> None:
    """A one-line error for the first variant pixpretrain cannot build."""
    for pattern, setting in _UNSUPPORTED[arch]:
        for key in backbone:
            if re.fullmatch(pattern, key):
                raise ConversionError(
                    f'backbone.{key} belongs to {setting}, which '
                    "pixpretrain's backbone does not have; this checkpoint "
                    'cannot be converted')
    for key, why in _REQUIRED[arch]:
        if key not in backbone:
            raise ConversionError(f'backbone.{key} is missing: {why}')


def mmpretrain_to_pixpretrain(state_dict: StateDict,
                              progress: bool = False) -> Converted:
    """mmpretrain ViT / ResNet weights -> pixpretrain ``backbone.*``.

    Args:
        state_dict: An mmpretrain model's state dict: ``backbone.*`` of a
            ``VisionTransformer`` / ``MAEViT`` / ``MoCoV3ViT`` or a
            ``ResNet`` / ``ResNet_CIFAR``, and whatever else the algorithm
            holds (neck, head, momentum encoder, queue).
        progress: Draw a progress bar.

    Returns:
        (``backbone.*`` tensors in pixpretrain's names, ``{left-out key:
        reason}`` for every tensor outside the backbone).

    Raises:
        ConversionError: No backbone, an unsupported architecture or
            variant, or a backbone tensor without a counterpart (named).
    """
    # The family shows in the names (layers.N vs layer1), so no option.
    arch = mmpretrain_arch_of(state_dict)
    _refuse_unsupported([k[len('backbone.'):] for k in state_dict
                         if k.startswith('backbone.')], arch)
    left_out = []
    for top in sorted({k.split('.')[0] for k in state_dict} - {'backbone'}):
        reason = (_OTHER_PARTS.get(top, 'not part of the backbone') +
                  '; pixpretrain takes the backbone only')
        left_out += [(f'{top}.{{rest}}', reason), (top, reason)]
    rules = prefixed(RULES[arch], source='backbone.', target='backbone.')
    return convert_keys(state_dict, rules, left_out,
                        'mmpretrain -> pixpretrain' if progress else None)


def describe_mmpretrain(converted: StateDict) -> List[str]:
    """Strict-load converted tensors into pixpretrain's ViT or ResNet and
    describe the config they fit: the ``check`` of the mmpretrain tool.

    Args:
        converted: What :func:`mmpretrain_to_pixpretrain` produced.

    Returns:
        Lines for the user.

    Raises:
        ConversionError: A tensor is missing, left over or misshapen.
    """
    if any(k.startswith('backbone.blocks.') for k in converted):
        return describe_vit(converted) + [
            "  (pixpretrain's outputs are mmpretrain's out_type='raw': all "
            'tokens, class token first, final norm on the last block)']
    return describe_resnet(converted)
