"""ViT converters against hand-built timm / official MAE layouts.

The source layouts' names and shapes are written out here from timm's
``VisionTransformer`` and facebookresearch/mae's ``MaskedAutoencoderViT``;
nothing is downloaded. A forward pass written directly over timm's tensor
names is the independent reference for what the converted weights compute.
"""
import argparse
import runpy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pixpretrain.apis.cli import convert_main
from pixpretrain.models import MAE, MAEDecoder, MAEHead, VisionTransformer
from pixpretrain.models.converters import (ConversionError,
                                           check_pixpretrain_vit,
                                           describe_timm_vit,
                                           mae_to_pixpretrain,
                                           pixpretrain_to_timm_vit,
                                           timm_to_pixpretrain_vit,
                                           vit_config_of)

REPO = Path(__file__).resolve().parents[3]
CONVERTERS = REPO / 'tools' / 'model_converters'

DIMS, DEPTH, HEADS, HIDDEN, PATCH, GRID = 16, 2, 2, 40, 4, 4


def timm_blocks(prefix, depth, dims, hidden, qkv_bias=True):
    state = {}
    for i in range(depth):
        b = f'{prefix}.{i}.'
        state.update({
            b + 'norm1.weight': 1 + 0.1 * torch.randn(dims),
            b + 'norm1.bias': 0.1 * torch.randn(dims),
            b + 'attn.qkv.weight': torch.randn(3 * dims, dims) / dims**0.5,
            b + 'attn.proj.weight': torch.randn(dims, dims) / dims**0.5,
            b + 'attn.proj.bias': 0.1 * torch.randn(dims),
            b + 'norm2.weight': 1 + 0.1 * torch.randn(dims),
            b + 'norm2.bias': 0.1 * torch.randn(dims),
            b + 'mlp.fc1.weight': torch.randn(hidden, dims) / dims**0.5,
            b + 'mlp.fc1.bias': 0.1 * torch.randn(hidden),
            b + 'mlp.fc2.weight': torch.randn(dims, hidden) / hidden**0.5,
            b + 'mlp.fc2.bias': 0.1 * torch.randn(dims),
        })
        if qkv_bias:
            state[b + 'attn.qkv.bias'] = 0.1 * torch.randn(3 * dims)
    return state


def timm_vit(num_classes=10, qkv_bias=True):
    """timm VisionTransformer(img_size=16, patch_size=4, embed_dim=16,
    depth=2, mlp_ratio=2.5).state_dict(), random values."""
    torch.manual_seed(0)
    state = {
        'cls_token': 0.02 * torch.randn(1, 1, DIMS),
        'pos_embed': 0.02 * torch.randn(1, 1 + GRID * GRID, DIMS),
        'patch_embed.proj.weight': torch.randn(DIMS, 3, PATCH, PATCH) / 7,
        'patch_embed.proj.bias': 0.1 * torch.randn(DIMS),
    }
    state.update(timm_blocks('blocks', DEPTH, DIMS, HIDDEN, qkv_bias))
    state['norm.weight'] = 1 + 0.1 * torch.randn(DIMS)
    state['norm.bias'] = 0.1 * torch.randn(DIMS)
    if num_classes:
        state['head.weight'] = torch.randn(num_classes, DIMS)
        state['head.bias'] = torch.randn(num_classes)
    return state


def mae_official(decoder_dims=8, decoder_depth=1):
    """MaskedAutoencoderViT's state dict: the timm encoder plus decoder."""
    state = timm_vit(num_classes=0)
    state.update({
        'mask_token': 0.02 * torch.randn(1, 1, decoder_dims),
        'decoder_embed.weight': torch.randn(decoder_dims, DIMS),
        'decoder_embed.bias': torch.randn(decoder_dims),
        'decoder_pos_embed': torch.randn(1, 1 + GRID * GRID, decoder_dims),
        'decoder_norm.weight': torch.randn(decoder_dims),
        'decoder_norm.bias': torch.randn(decoder_dims),
        'decoder_pred.weight': torch.randn(PATCH * PATCH * 3, decoder_dims),
        'decoder_pred.bias': torch.randn(PATCH * PATCH * 3),
    })
    state.update(timm_blocks('decoder_blocks', decoder_depth, decoder_dims,
                             4 * decoder_dims))
    return state


def timm_reference_forward(state, images, heads):
    """timm's ViT forward (class-token pooling off), over timm's names."""
    x = F.conv2d(images, state['patch_embed.proj.weight'],
                 state['patch_embed.proj.bias'], stride=PATCH)
    x = x.flatten(2).transpose(1, 2)  # (B, L, D)
    B, L, D = x.shape
    x = torch.cat([state['cls_token'].expand(B, -1, -1), x], 1)
    x = x + state['pos_embed']
    for i in range(DEPTH):
        def p(name):
            return state.get(f'blocks.{i}.{name}')
        h = F.layer_norm(x, (D, ), p('norm1.weight'), p('norm1.bias'), 1e-6)
        q, k, v = F.linear(h, p('attn.qkv.weight'), p('attn.qkv.bias')) \
            .reshape(B, L + 1, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (D // heads)**-0.5).softmax(-1)
        h = (attn @ v).transpose(1, 2).reshape(B, L + 1, D)
        x = x + F.linear(h, p('attn.proj.weight'), p('attn.proj.bias'))
        h = F.layer_norm(x, (D, ), p('norm2.weight'), p('norm2.bias'), 1e-6)
        h = F.gelu(F.linear(h, p('mlp.fc1.weight'), p('mlp.fc1.bias')))
        x = x + F.linear(h, p('mlp.fc2.weight'), p('mlp.fc2.bias'))
    return F.layer_norm(x, (D, ), state['norm.weight'], state['norm.bias'],
                        1e-6)


def our_vit(qkv_bias=True, **kwargs):
    return VisionTransformer(
        arch=dict(embed_dims=DIMS, num_layers=DEPTH, num_heads=HEADS,
                  mlp_ratio=HIDDEN / DIMS), img_size=PATCH * GRID,
        patch_size=PATCH, qkv_bias=qkv_bias, **kwargs)


def strip(state, prefix='backbone.'):
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


@pytest.mark.parametrize('qkv_bias', [True, False])
def test_timm_weights_compute_the_same_in_pixpretrain(qkv_bias):
    timm = timm_vit(qkv_bias=qkv_bias)
    converted, left_out = timm_to_pixpretrain_vit(timm)
    assert set(left_out) == {'head.weight', 'head.bias'}
    assert len(converted) == len(timm) - 2
    model = our_vit(qkv_bias=qkv_bias).eval()
    model.load_state_dict(strip(converted), strict=True)
    images = torch.randn(2, 3, 16, 16)
    expected = timm_reference_forward(timm, images, HEADS)
    torch.testing.assert_close(model(images)[0], expected, rtol=1e-5,
                               atol=1e-5)


def test_timm_round_trip_is_exact():
    timm = timm_vit(num_classes=0)
    ours, _ = timm_to_pixpretrain_vit(timm)
    back, left_out = pixpretrain_to_timm_vit(ours)
    assert left_out == {}
    assert list(back) == list(timm)
    for key in timm:
        assert back[key] is timm[key]  # renamed, never copied or cast


def test_pixpretrain_round_trip_is_exact_and_leaves_out_the_rest():
    torch.manual_seed(0)
    mae = MAE(backbone=our_vit(),
              neck=MAEDecoder(num_patches=16, patch_size=4,
                              encoder_dims=DIMS, decoder_dims=8,
                              decoder_depth=1, decoder_num_heads=2),
              head=MAEHead(patch_size=4))
    state = mae.state_dict()
    timm, left_out = pixpretrain_to_timm_vit(state)
    assert set(left_out) == {k for k in state if k.startswith('neck.')}
    assert set(left_out.values()) == {'not part of the image backbone'}
    assert 'patch_embed.proj.weight' in timm and 'blocks.1.mlp.fc2.bias' \
        in timm
    back, _ = timm_to_pixpretrain_vit(timm)
    assert back.keys() == {k for k in state if k.startswith('backbone.')}
    for key in back:
        assert torch.equal(back[key], state[key])
    # A bare backbone's state dict converts too.
    bare, nothing = pixpretrain_to_timm_vit(mae.backbone.state_dict())
    assert nothing == {} and bare.keys() == timm.keys()


def test_official_mae_loads_into_the_pretrainer_strictly():
    official = mae_official()
    converted, left_out = mae_to_pixpretrain(official)
    assert left_out == {} and len(converted) == len(official)
    model = MAE(backbone=our_vit(),
                neck=MAEDecoder(num_patches=16, patch_size=4,
                                encoder_dims=DIMS, decoder_dims=8,
                                decoder_depth=1, decoder_num_heads=2),
                head=MAEHead(patch_size=4))
    model.load_state_dict(converted, strict=True)
    assert torch.equal(model.neck.decoder_blocks[0].mlp[2].weight,
                       official['decoder_blocks.0.mlp.fc2.weight'])
    assert torch.equal(model.backbone.patch_embed.weight,
                       official['patch_embed.proj.weight'])
    configs = check_pixpretrain_vit(converted)
    assert configs['neck']['decoder_dims'] == 8
    assert configs['neck']['decoder_depth'] == 1
    assert configs['backbone']['arch']['num_layers'] == DEPTH


def test_unknown_layout_is_refused_naming_the_keys():
    timm = timm_vit()
    timm['blocks.0.ls1.gamma'] = torch.ones(DIMS)  # LayerScale: no place
    timm['reg_token'] = torch.zeros(1, 4, DIMS)
    with pytest.raises(ConversionError) as info:
        timm_to_pixpretrain_vit(timm)
    assert 'blocks.0.ls1.gamma' in str(info.value)
    assert 'reg_token' in str(info.value)


def test_check_names_a_missing_tensor():
    converted, _ = timm_to_pixpretrain_vit(timm_vit())
    del converted['backbone.blocks.1.norm2.bias']
    with pytest.raises(ConversionError, match='blocks.1.norm2.bias'):
        check_pixpretrain_vit(converted)


def test_config_inference_matches_the_shapes():
    converted, _ = timm_to_pixpretrain_vit(timm_vit(qkv_bias=False))
    config = vit_config_of(strip(converted))
    assert config['arch'] == dict(embed_dims=DIMS, num_layers=DEPTH,
                                  num_heads=1, mlp_ratio=HIDDEN / DIMS)
    assert (config['img_size'], config['patch_size'],
            config['qkv_bias']) == (16, 4, False)


def test_tools_convert_files_for_init_cfg(tmp_path, capsys):
    torch.save({'model': timm_vit()}, tmp_path / 'timm.pth')
    dst = tmp_path / 'px.pth'
    main = runpy.run_path(str(CONVERTERS /
                              'timm2pixpretrain_vit.py'))['main']
    assert main([str(tmp_path / 'timm.pth'), str(dst)]) == 0
    out = capsys.readouterr().out
    assert 'left out head.weight: classifier' in out
    assert 'every tensor loads strictly' in out
    model = our_vit(init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                                  prefix='backbone.'))
    model.init_weights()
    torch.testing.assert_close(model.blocks[1].mlp[0].weight,
                               timm_vit()['blocks.1.mlp.fc1.weight'])


def test_pixpretrain_to_timm_tool_writes_a_bare_state_dict(tmp_path, capsys):
    backbone = our_vit()
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['head.some_buffer'] = torch.zeros(1)
    torch.save({'state_dict': state, 'meta': {'epoch': 3}},
               tmp_path / 'px.pth')
    assert convert_main('', pixpretrain_to_timm_vit, describe_timm_vit,
                        pixpretrain_checkpoint=False,
                        argv=[str(tmp_path / 'px.pth'),
                              str(tmp_path / 'timm.pth')]) == 0
    assert 'left out head.some_buffer' in capsys.readouterr().out
    timm = torch.load(tmp_path / 'timm.pth', weights_only=True)
    expected = backbone.state_dict()
    assert torch.equal(timm['patch_embed.proj.weight'],
                       expected['patch_embed.weight'])
    assert len(timm) == len(expected)


def test_a_file_that_would_run_code_is_refused(tmp_path, capsys):
    torch.save({'model': timm_vit(), 'args': argparse.Namespace(lr=1)},
               tmp_path / 'training_state.pth')
    assert convert_main('', mae_to_pixpretrain, argv=[
        str(tmp_path / 'training_state.pth'), str(tmp_path / 'out.pth')
    ]) == 1
    assert 'refused' in capsys.readouterr().err
    assert not (tmp_path / 'out.pth').exists()
