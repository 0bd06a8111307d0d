"""OpenCLIP CLIP weights (a ViT image tower, the plain text tower) ->
pixpretrain's ``CLIP``.

The blocks match one to one (OpenCLIP's ``in_proj`` is pixpretrain's fused
``qkv`` with the same q, k, v order). Beyond renaming: OpenCLIP stores the
class and position embeddings without their batch axis and the two
projections as (width, embed) matrices (pixpretrain: ``nn.Linear``
weights, transposed). The image tower needs ``pre_norm=True`` (its
``ln_pre``) and ``patch_bias=False``, and CLIP's LayerNorms
``layer_norm_eps=1e-5``; :func:`openclip_clip_config` gives the whole model
config.

Exact only for towers with exact GELU, OpenCLIP's default (``ViT-B-32``
and the other LAION / DataComp models). OpenAI's original weights use
QuickGELU (``ViT-B-32-quickgelu``); pixpretrain's blocks do not, and their
embeddings would differ.
"""
import math
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from .rules import ConversionError, Rule, StateDict, convert_keys

Converted = Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str]]

# CLIP's start and end ids in OpenCLIP's tokenizer (OpenCLIPTokenizer).
OPENCLIP_EOT_ID = 49407


def _tower_rules(source: str, target: str) -> List[Rule]:
    """OpenCLIP ``ResidualAttentionBlock``s -> ``TransformerBlock``s."""
    blocks = f'{source}transformer.resblocks.{{i}}'
    into = f'{target}blocks.{{i}}'
    return [
        (f'{blocks}.ln_1.{{p}}', f'{into}.norm1.{{p}}'),
        (f'{blocks}.attn.in_proj_weight', f'{into}.attn.qkv.weight'),
        (f'{blocks}.attn.in_proj_bias', f'{into}.attn.qkv.bias'),
        (f'{blocks}.attn.out_proj.{{p}}', f'{into}.attn.proj.{{p}}'),
        (f'{blocks}.ln_2.{{p}}', f'{into}.norm2.{{p}}'),
        (f'{blocks}.mlp.c_fc.{{p}}', f'{into}.mlp.0.{{p}}'),
        (f'{blocks}.mlp.c_proj.{{p}}', f'{into}.mlp.2.{{p}}'),
    ]


OPENCLIP_RULES: List[Rule] = [
    ('visual.class_embedding', 'backbone.cls_token'),
    ('visual.positional_embedding', 'backbone.pos_embed'),
    ('visual.conv1.weight', 'backbone.patch_embed.weight'),
    ('visual.ln_pre.{p}', 'backbone.pre_norm.{p}'),
    *_tower_rules('visual.', 'backbone.'),
    ('visual.ln_post.{p}', 'backbone.norm.{p}'),
    ('visual.proj', 'head.image_proj.weight'),
    ('token_embedding.weight', 'text_backbone.token_embed.weight'),
    ('positional_embedding', 'text_backbone.pos_embed'),
    *_tower_rules('', 'text_backbone.'),
    ('ln_final.{p}', 'text_backbone.norm.{p}'),
    ('text_projection', 'head.text_proj.weight'),
    ('logit_scale', 'head.logit_scale'),
]
_LEFT_OUT = [('attn_mask', 'the causal mask, rebuilt by the attention')]


def openclip_to_pixpretrain_clip(state_dict: StateDict,
                                 progress: bool = False) -> Converted:
    """OpenCLIP ``CLIP.state_dict()`` -> pixpretrain ``CLIP`` tensors.

    Args:
        state_dict: A ViT image tower and the plain text tower (``visual.*``,
            ``transformer.*``, ``token_embedding``, ...), e.g. of
            ``open_clip.create_model('ViT-B-32')``.
        progress: Draw a progress bar.

    Returns:
        (``backbone.*``, ``text_backbone.*`` and ``head.*`` tensors,
        ``{left-out key: reason}``).

    Raises:
        ConversionError: A tensor has no place (a ResNet or timm image
            tower, a Hugging Face text tower, an attention pooler).
    """
    renamed, left_out = convert_keys(
        state_dict, OPENCLIP_RULES, _LEFT_OUT,
        'OpenCLIP -> pixpretrain' if progress else None)
    if 'head.image_proj.weight' not in renamed:
        raise ConversionError(
            "no 'visual.proj': only OpenCLIP ViT towers with a projection "
            'convert (e.g. ViT-B-32)')
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, tensor in renamed.items():
        if key == 'backbone.cls_token':
            tensor = tensor.reshape(1, 1, -1)
        elif key in ('backbone.pos_embed', 'text_backbone.pos_embed'):
            tensor = tensor.unsqueeze(0)
        elif key in ('head.image_proj.weight', 'head.text_proj.weight'):
            tensor = tensor.t().contiguous()
        converted[key] = tensor
    return converted, left_out


def _depth(state_dict: StateDict, prefix: str) -> int:
    return len({k[len(prefix):].split('.')[0] for k in state_dict
                if k.startswith(prefix)})


def _arch(state_dict: StateDict, tower: str, head_width: int) -> dict:
    dims = state_dict[f'{tower}.norm.weight'].shape[0]
    hidden = state_dict[f'{tower}.blocks.0.mlp.0.weight'].shape[0]
    return dict(embed_dims=dims,
                num_layers=_depth(state_dict, f'{tower}.blocks.'),
                num_heads=dims // head_width, mlp_ratio=hidden / dims)


def openclip_clip_config(converted: StateDict, head_width: int = 64,
                         text_head_width: int = 64) -> dict:
    """The ``model`` config of pixpretrain's CLIP that converted OpenCLIP
    weights load into strictly (without ``data_preprocessor``: CLIP's
    statistics are the default of ``configs/_base_/models/clip_vit-b-32.py``).

    Args:
        converted: What :func:`openclip_to_pixpretrain_clip` returned.
        head_width: Width of one image attention head (the weights do not
            store the number of heads; 64 in every OpenCLIP ViT).
        text_head_width: The same for the text tower (64: ViT-B-32's 512
            wide text tower has 8 heads).
    """
    patch = converted['backbone.patch_embed.weight'].shape[-1]
    grid = math.isqrt(converted['backbone.pos_embed'].shape[1] - 1)
    tokens = converted['text_backbone.token_embed.weight']
    image_arch = _arch(converted, 'backbone', head_width)
    text_arch = _arch(converted, 'text_backbone', text_head_width)
    return dict(
        type='CLIP', image_pool='cls',
        backbone=dict(type='VisionTransformer', arch=image_arch,
                      img_size=grid * patch, patch_size=patch,
                      pos_embed='learned', pre_norm=True,
                      patch_bias=False, layer_norm_eps=1e-5),
        text_backbone=dict(
            type='TextTransformer', arch=text_arch,
            vocab_size=tokens.shape[0],
            context_length=converted['text_backbone.pos_embed'].shape[1],
            eot_id=OPENCLIP_EOT_ID, layer_norm_eps=1e-5),
        head=dict(type='ContrastiveTextHead',
                  image_dims=image_arch['embed_dims'],
                  text_dims=text_arch['embed_dims'],
                  embed_dims=converted['head.text_proj.weight'].shape[0]))


def describe_openclip_clip(converted: StateDict) -> List[str]:
    """Strict-load converted OpenCLIP tensors into the CLIP that
    :func:`openclip_clip_config` describes, and print that config: the
    ``check`` of ``tools/model_converters/openclip2pixpretrain_clip.py``.

    Raises:
        ConversionError: A tensor is missing, left over or misshapen.
    """
    from pixpretrain.registry import MODELS
    config = openclip_clip_config(converted)
    model = MODELS.build(config)
    try:
        model.load_state_dict(converted, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConversionError(
            'the converted tensors do not load into '
            f"pixpretrain's CLIP: {' '.join(first[1:3])}") from None
    return ['every tensor loads strictly into:', f'  model = {config}',
            '  (64-wide attention heads assumed, as in every OpenCLIP ViT; '
            'tokenizer: OpenCLIPTokenizer, configs/clip/vit-b-32_openclip.py)']
