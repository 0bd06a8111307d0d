"""What a converted ViT state dict is: the ViT and MAE decoder configs its
tensors imply, checked by loading them strictly into modules of those
configs, and the lines the converter tools print about it."""
import math
from typing import Dict, List

import torch

from .rules import ConversionError, StateDict
from .vit import timm_to_pixpretrain_vit


def _sub_dict(state_dict: StateDict, prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state_dict.items()
            if k.startswith(prefix)}


def _num_layers(state_dict: StateDict, prefix: str) -> int:
    indices = {int(k[len(prefix):].split('.')[0]) for k in state_dict
               if k.startswith(prefix)}
    if indices != set(range(len(indices))):
        raise ConversionError(f'{prefix}N indices are not 0..n-1: '
                              f'{sorted(indices)}')
    return len(indices)


def _grid_side(num_tokens: int, what: str) -> int:
    side = math.isqrt(num_tokens - 1)
    if side * side != num_tokens - 1:
        raise ConversionError(
            f'{what} holds {num_tokens} tokens: not 1 class token + a '
            'square grid; register tokens or a class-token-free position '
            'embedding are not supported')
    return side


def vit_config_of(backbone: StateDict) -> dict:
    """``VisionTransformer`` arguments whose parameters have these shapes.

    The number of attention heads is not stored in the weights: it is set
    to 1 here; give the model's true value in a config.

    Args:
        backbone: pixpretrain ``VisionTransformer`` tensors (no prefix).
    """
    try:
        dims, channels, patch = backbone['patch_embed.weight'].shape[:3]
        side = _grid_side(backbone['pos_embed'].shape[1], 'pos_embed')
        hidden = backbone['blocks.0.mlp.0.weight'].shape[0]
    except KeyError as exc:
        raise ConversionError(f'not a ViT state dict: no {exc}') from None
    return dict(
        type='VisionTransformer',
        arch=dict(embed_dims=dims,
                  num_layers=_num_layers(backbone, 'blocks.'), num_heads=1,
                  mlp_ratio=hidden / dims),
        img_size=side * patch, patch_size=patch, in_channels=channels,
        qkv_bias='blocks.0.attn.qkv.bias' in backbone)


def mae_decoder_config_of(neck: StateDict) -> dict:
    """``MAEDecoder`` arguments whose parameters have these shapes (one
    attention head; the weights do not store the number)."""
    dims = neck['mask_token'].shape[-1]
    pixels = neck['decoder_pred.weight'].shape[0]
    side = _grid_side(neck['decoder_pos_embed'].shape[1],
                      'decoder_pos_embed')
    hidden = neck['decoder_blocks.0.mlp.0.weight'].shape[0]
    return dict(
        type='MAEDecoder', num_patches=side * side,
        encoder_dims=neck['decoder_embed.weight'].shape[1],
        decoder_dims=dims,
        decoder_depth=_num_layers(neck, 'decoder_blocks.'),
        decoder_num_heads=1, mlp_ratio=hidden / dims,
        pixels_per_patch=pixels)


def check_pixpretrain_vit(state_dict: StateDict) -> Dict[str, dict]:
    """Load converted tensors strictly into modules of matching shape.

    Proves that every tensor has a place and every parameter a tensor.

    Args:
        state_dict: ``backbone.*`` and optionally ``neck.*`` (MAE decoder).

    Returns:
        The inferred module configs, ``{'backbone': ..., 'neck': ...}``.

    Raises:
        ConversionError: A tensor is missing, unexpected or misshapen.
    """
    from pixpretrain.models import MAEDecoder, VisionTransformer
    configs = {}
    backbone = _sub_dict(state_dict, 'backbone.')
    configs['backbone'] = vit_config_of(backbone)
    kwargs = {k: v for k, v in configs['backbone'].items() if k != 'type'}
    parts = [('backbone', VisionTransformer(pos_embed='learned', **kwargs),
              backbone)]
    neck = _sub_dict(state_dict, 'neck.')
    if neck:
        config = mae_decoder_config_of(neck)
        patch = configs['backbone']['patch_size']
        channels, remainder = divmod(config.pop('pixels_per_patch'),
                                     patch * patch)
        if remainder:
            raise ConversionError('decoder_pred does not predict whole '
                                  f'{patch} x {patch} patches')
        config.update(patch_size=patch, in_channels=channels)
        configs['neck'] = config
        parts.append(('neck', MAEDecoder(**{
            k: v for k, v in config.items() if k != 'type'}), neck))
    others = sorted({k.split('.')[0] for k in state_dict} -
                    {'backbone', 'neck'})
    if others:
        raise ConversionError(f'unexpected top-level keys {others}')
    for name, module, tensors in parts:
        try:
            missing, unexpected = module.load_state_dict(tensors,
                                                         strict=False)
        except RuntimeError as exc:
            # torch's message spans lines; the tools print one.
            raise ConversionError(
                f"{name}: {' '.join(str(exc).split())}") from None
        if missing or unexpected:
            raise ConversionError(
                f'{name}: missing {missing}, unexpected {unexpected}')
    return configs


def describe_vit(converted: StateDict) -> List[str]:
    """Strict-load pixpretrain ViT (and MAE decoder) tensors and describe
    them as config lines: the ``check`` of the converters to pixpretrain.

    Args:
        converted: ``backbone.*`` (and ``neck.*``) tensors.

    Returns:
        Lines for the user, one ``model.<part> = dict(...)`` each.

    Raises:
        ConversionError: A tensor is missing, left over or of the wrong
            shape.
    """
    configs = check_pixpretrain_vit(converted)
    lines = ['every tensor loads strictly into:']
    for part, config in configs.items():
        lines.append(f'  model.{part} = {config}')
    lines.append('  (the weights do not store the number of attention '
                 'heads: num_heads=1 above is a placeholder; use the '
                 "model's value)")
    return lines


def describe_timm_vit(timm_state: StateDict) -> List[str]:
    """Check timm-layout ViT tensors by mapping them back onto pixpretrain's
    ViT, which they match one to one; describe the backbone they load into.

    Args:
        timm_state: What :func:`pixpretrain_to_timm_vit` produced.

    Returns:
        Lines for the user.

    Raises:
        ConversionError: The tensors do not form a pixpretrain ViT.
    """
    back, _ = timm_to_pixpretrain_vit(timm_state)
    lines = describe_vit(back)
    lines[0] = ('every tensor has its timm name; the same weights load '
                'strictly into:')
    return lines
