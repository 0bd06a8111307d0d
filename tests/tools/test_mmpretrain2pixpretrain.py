"""tools/model_converters/mmpretrain2pixpretrain.py against mmpretrain 1.2.0
itself: its own models (random weights) saved as its Runner saves them,
converted by the tool, compute the same features of every block / stage in
pixpretrain's backbones.

mmpretrain runs in a child process (``mmpretrain_reference.py``), installed
beside this environment by ``benchmarks/peer_envs.py``; the test skips when
it cannot be installed (no package index).
"""
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pixpretrain.models import ResNet, VisionTransformer

REPO = Path(__file__).resolve().parents[2]
TOOL = runpy.run_path(
    str(REPO / 'tools/model_converters/mmpretrain2pixpretrain.py'))['main']
PEERS = runpy.run_path(str(REPO / 'benchmarks/peer_envs.py'))
VIT_T = dict(embed_dims=192, num_layers=12, num_heads=3, mlp_ratio=4.0)


@pytest.fixture(scope='module')
def mmpretrain_run(tmp_path_factory):
    """mmpretrain's checkpoints and outputs, made once for the module."""
    try:
        env = PEERS['ensure_peer']('mmpretrain', quiet=True)
    except PEERS['PeerUnavailable'] as exc:
        pytest.skip(f'mmpretrain 1.2.0 is not available: {exc}')
    out = tmp_path_factory.mktemp('mmpretrain')
    env['OMP_NUM_THREADS'] = '1'
    child = subprocess.run(
        [sys.executable, '-W', 'ignore',
         str(Path(__file__).with_name('mmpretrain_reference.py')), str(out)],
        env=env, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr[-3000:]
    return out, torch.load(out / 'reference.pth', weights_only=True)


def convert(run, name, capsys):
    """The tool on ``{name}.pth``: (backbone tensors unprefixed, stdout)."""
    out, _ = run
    dst = out / f'{name}.px.pth'
    assert TOOL([str(out / f'{name}.pth'), str(dst)]) == 0
    printed = capsys.readouterr().out
    state = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in state)
    return {k[len('backbone.'):]: v for k, v in state.items()}, printed


def our_vit(state, **kwargs):
    model = VisionTransformer(arch=VIT_T, img_size=32, patch_size=4,
                              out_indices=list(range(12)), **kwargs)
    model.load_state_dict(state, strict=True)
    return model.eval()


@pytest.mark.parametrize('name,pos_embed', [('vit', 'learned'),
                                            ('mae_vit', 'sincos')])
def test_vit_blocks_compute_the_same(mmpretrain_run, capsys, name,
                                     pos_embed):
    state, printed = convert(mmpretrain_run, name, capsys)
    assert 'every tensor loads strictly' in printed
    reference = mmpretrain_run[1][name]
    # pixpretrain's default sin-cos table differs from MAEViT's; the
    # checkpoint's values replace it on load.
    model = our_vit(state, pos_embed=pos_embed)
    with torch.no_grad():
        ours = model(reference['images'])
    assert len(ours) == len(reference['outputs']) == 12
    for block, (mine, theirs) in enumerate(zip(ours, reference['outputs'])):
        torch.testing.assert_close(mine, theirs, msg=f'block {block}')


def test_mae_masked_path_computes_the_same(mmpretrain_run, capsys):
    state, _ = convert(mmpretrain_run, 'mae_vit', capsys)
    reference = mmpretrain_run[1]['mae_vit']
    model = our_vit(state)
    # mmpretrain keeps the patches in the order of its shuffle.
    keep = torch.argsort(reference['ids_restore'], dim=1)
    keep = keep[:, :reference['num_visible']]
    with torch.no_grad():
        tokens = model.embed(reference['images'])
        visible = torch.gather(
            tokens, 1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
        torch.testing.assert_close(model.encode(visible),
                                   reference['masked'])


def test_the_head_count_is_not_in_the_weights(mmpretrain_run, capsys):
    # The comparison can fail: the same tensors with 1 head instead of 3.
    state, printed = convert(mmpretrain_run, 'vit', capsys)
    assert "'num_heads': 1" in printed and 'placeholder' in printed
    model = VisionTransformer(arch=dict(VIT_T, num_heads=1), img_size=32,
                              patch_size=4, pos_embed='learned').eval()
    model.load_state_dict(state, strict=True)
    reference = mmpretrain_run[1]['vit']
    with torch.no_grad():
        wrong = model(reference['images'])[-1]
    assert not torch.allclose(wrong, reference['outputs'][-1], atol=1e-3)


@pytest.mark.parametrize('name', ['resnet', 'resnet_cifar'])
def test_resnet_stages_compute_the_same(mmpretrain_run, capsys, name):
    state, printed = convert(mmpretrain_run, name, capsys)
    cifar = name == 'resnet_cifar'
    assert ('cifar_stem=True' in printed) == cifar
    model = ResNet(depth=18, cifar_stem=cifar, out_indices=(0, 1, 2, 3))
    model.load_state_dict(state, strict=True)
    model.eval()
    reference = mmpretrain_run[1][name]
    with torch.no_grad():
        ours = model(reference['images'])
    for stage, (mine, theirs) in enumerate(zip(ours, reference['outputs'])):
        torch.testing.assert_close(mine, theirs, msg=f'stage {stage}')
    if cifar:  # the CIFAR stem's 3x3 conv1 does not fit ImageNet's 7x7
        with pytest.raises(RuntimeError, match='conv1.weight'):
            ResNet(depth=18).load_state_dict(state)


def test_parts_beside_the_backbone_are_counted(mmpretrain_run, capsys):
    _, printed = convert(mmpretrain_run, 'resnet_cifar', capsys)
    assert '120 of 251 tensors converted' in printed
    assert 'left out 125 tensors (encoder_k.steps' in printed
    assert "momentum encoder" in printed
    assert 'left out 4 tensors (neck.' in printed
    assert 'left out queue:' in printed
    _, printed = convert(mmpretrain_run, 'mae_vit', capsys)
    assert 'left out 20 tensors (neck.mask_token' in printed


def test_init_cfg_loads_the_converted_file(mmpretrain_run, capsys):
    # The documented route into a pixpretrain config.
    convert(mmpretrain_run, 'mae_vit', capsys)
    out, reference = mmpretrain_run
    model = VisionTransformer(
        arch=VIT_T, img_size=32, patch_size=4,
        init_cfg=dict(type='Pretrained', checkpoint=str(out /
                                                        'mae_vit.px.pth'),
                      prefix='backbone.'))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(reference['mae_vit']['images'])[-1],
            reference['mae_vit']['outputs'][-1])
