"""The mmpretrain converter's refusals, on mmpretrain names made by running
its rules backwards over pixpretrain backbones (no mmpretrain needed; the
outputs against mmpretrain itself are checked in
``tests/tools/test_mmpretrain2pixpretrain.py``)."""
import runpy
from pathlib import Path

import pytest
import torch

from pixpretrain.models import ResNet, VisionTransformer
from pixpretrain.models.converters import (MMPRETRAIN_RESNET_RULES,
                                           MMPRETRAIN_VIT_RULES,
                                           ConversionError, convert_keys,
                                           inverted, mmpretrain_arch_of,
                                           mmpretrain_to_pixpretrain,
                                           prefixed)

REPO = Path(__file__).resolve().parents[3]
TOOL = runpy.run_path(
    str(REPO / 'tools/model_converters/mmpretrain2pixpretrain.py'))['main']


def mmpretrain_names(backbone, rules):
    """A pixpretrain backbone's tensors under mmpretrain's names."""
    state, _ = convert_keys(backbone.state_dict(),
                            prefixed(inverted(rules), target='backbone.'))
    return dict(state)


@pytest.fixture
def vit_state():
    torch.manual_seed(0)
    vit = VisionTransformer(arch=dict(embed_dims=16, num_layers=2,
                                      num_heads=2, mlp_ratio=2.0),
                            img_size=16, patch_size=4)
    return mmpretrain_names(vit, MMPRETRAIN_VIT_RULES)


@pytest.fixture
def resnet_state():
    return mmpretrain_names(ResNet(depth=18, cifar_stem=True),
                            MMPRETRAIN_RESNET_RULES)


def test_round_trip_and_family(vit_state, resnet_state):
    assert mmpretrain_arch_of(vit_state) == 'vit'
    assert mmpretrain_arch_of(resnet_state) == 'resnet'
    assert 'backbone.layers.1.ffn.layers.0.0.weight' in vit_state
    assert 'backbone.ln1.bias' in vit_state
    vit_state['neck.decoder_pred.weight'] = torch.zeros(1)
    converted, left_out = mmpretrain_to_pixpretrain(vit_state)
    assert 'backbone.blocks.1.mlp.0.weight' in converted
    assert list(left_out) == ['neck.decoder_pred.weight']


@pytest.mark.parametrize('key,message', [
    ('backbone.layers.0.attn.gamma1.weight', 'layer scale'),
    ('backbone.layers.1.ffn.w12.weight', 'SwiGLU'),
    ('backbone.pre_norm.weight', 'pre_norm=True'),
    ('backbone.ln2.weight', "out_type='avg_featmap'"),
    ('backbone.layers.0.attn.q_bias', 'no counterpart'),
])
def test_vit_variants_are_refused_by_name(vit_state, key, message):
    vit_state[key] = torch.zeros(1)
    with pytest.raises(ConversionError, match=message) as info:
        mmpretrain_to_pixpretrain(vit_state)
    assert key in str(info.value)


@pytest.mark.parametrize('key,message', [
    ('backbone.ln1.weight', 'final_norm=False'),
    ('backbone.cls_token', 'with_cls_token=False'),
])
def test_vit_without_a_part_pixpretrain_has(vit_state, key, message):
    del vit_state[key]
    with pytest.raises(ConversionError, match=message):
        mmpretrain_to_pixpretrain(vit_state)


@pytest.mark.parametrize('key,message', [
    ('backbone.stem.0.conv.weight', 'deep stem'),
    ('backbone.layer2.0.downsample.2.weight', 'avg_down'),
    ('backbone.layer1.0.gn1.weight', 'BatchNorm'),
])
def test_resnet_variants_are_refused_by_name(resnet_state, key, message):
    resnet_state[key] = torch.zeros(1)
    with pytest.raises(ConversionError, match=message):
        mmpretrain_to_pixpretrain(resnet_state)


def run_tool(tmp_path, capsys, checkpoint):
    """The tool's one-line error, alone on stderr (a conversion that got
    as far as renaming draws no progress bar: stderr is not a terminal)."""
    src = tmp_path / 'src.pth'
    if checkpoint is not None:
        torch.save(checkpoint, src)
    code = TOOL([str(src), str(tmp_path / 'dst.pth')])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), captured.err
    assert 'Traceback' not in captured.err
    assert not (tmp_path / 'dst.pth').exists()
    return lines[0]


def test_missing_file(tmp_path, capsys):
    assert 'src.pth' in run_tool(tmp_path, capsys, None)


def test_no_backbone_keys(tmp_path, capsys):
    line = run_tool(tmp_path, capsys, {'state_dict': {
        'neck.weight': torch.zeros(1), 'head.fc.weight': torch.zeros(1)}})
    assert "no 'backbone.*' tensors" in line and 'neck' in line


def test_not_a_checkpoint(tmp_path, capsys):
    assert 'a Tensor' in run_tool(tmp_path, capsys, torch.zeros(3))
    (tmp_path / 'src.pth').write_text('hello')
    assert TOOL([str(tmp_path / 'src.pth'), str(tmp_path / 'x.pth')]) == 1
    assert 'not a PyTorch checkpoint' in capsys.readouterr().err


def test_a_swin_is_unsupported(tmp_path, capsys):
    line = run_tool(tmp_path, capsys, {'state_dict': {
        'backbone.patch_embed.projection.weight': torch.zeros(1),
        'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight': torch.zeros(1)}})
    assert 'Swin' in line and 'backbone.patch_embed.projection' in line


def test_a_misshapen_tensor_is_one_line(tmp_path, capsys, resnet_state):
    resnet_state['backbone.layer1.0.conv1.weight'] = torch.zeros(64, 64, 1, 1)
    line = run_tool(tmp_path, capsys, {'state_dict': resnet_state})
    assert 'layer1.0.conv1.weight' in line and 'size mismatch' in line
