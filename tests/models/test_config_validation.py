"""Invalid config values are refused when the model is built (or, for the
queue, before training starts), in one line of the form
``<key> = <value>: must ... (allowed: ...)``."""
import copy
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from pixpretrain.apis.train import check_method_config
from pixpretrain.registry import MODELS, explain
from pixpretrain.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'


def model_cfg(fixture):
    return Config.fromfile(str(FIXTURES / fixture)).model.to_dict()


TINY_MAE = model_cfg('tiny_mae.py')  # ViT 32 px, patch 4: 64 patches
TINY_MOCO = model_cfg('tiny_moco.py')  # ResNet-18


def build_error(cfg, *path_and_value):
    """Build ``cfg`` with the value at a dotted path replaced; the one-line
    explanation of the error it raises."""
    cfg = copy.deepcopy(cfg)
    *path, value = path_and_value
    node = cfg
    keys = path[0].split('.')
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    with pytest.raises(ConfigError) as exc_info:
        MODELS.build(cfg)
    # mmengine prefixes the class and file to the message; explain() gives
    # the user our line.
    return explain(exc_info.value)


@pytest.mark.parametrize('ratio', [0.0, 1.0, -0.25, 1.5])
def test_mask_ratio_outside_the_open_interval(ratio):
    assert build_error(TINY_MAE, 'mask_ratio', ratio) == (
        f'mask_ratio = {ratio}: must be the fraction of patches removed '
        '(allowed: 0 < mask_ratio < 1)')


@pytest.mark.parametrize('ratio', [0.005, 0.995])
def test_mask_ratio_that_keeps_or_removes_every_patch(ratio):
    # round(64 * 0.995) = 64 patches kept (none removed: the loss would
    # divide by zero); round(64 * 0.005) = 0 kept (nothing to encode).
    assert build_error(TINY_MAE, 'mask_ratio', ratio) == (
        f'mask_ratio = {ratio}: must remove at least one of the backbone\'s '
        '64 patches and keep at least one (allowed: 0.007812 < mask_ratio '
        '< 0.9922)')


@pytest.mark.parametrize('ratio', [0.01, 0.99])
def test_mask_ratio_just_inside_the_range_trains(ratio):
    cfg = copy.deepcopy(TINY_MAE)
    cfg['mask_ratio'] = ratio
    model = MODELS.build(cfg)
    images = torch.randn(2, 3, 32, 32)
    assert torch.isfinite(model.loss(images)['loss'])


def test_image_size_not_divisible_by_patch_size():
    assert build_error(TINY_MAE, 'backbone.img_size', 30) == (
        'backbone.img_size = (30, 30): must be divisible by '
        'backbone.patch_size = 4 (allowed patch sizes for this img_size: '
        '1, 2, 3, 5, 6, 10, 15, 30; or an img_size that is a multiple of 4)')
    assert build_error(TINY_MAE, 'backbone.patch_size', 0) == (
        'backbone.patch_size = 0: must be a positive int (allowed: 1, 2, 3, '
        '...)')


@pytest.mark.parametrize('cfg, key, name, allowed', [
    (TINY_MAE, 'backbone.arch', 'vit-xl',
     "'b', 'h', 'l', 's', 't'; aliases 'base', 'deit-small', 'deit-tiny', "
     "'huge', 'large', 'small', 'tiny'"),
    (model_cfg('tiny_igpt.py'), 'backbone.arch', 'gigantic',
     "'l', 'm', 'nano', 's', 'tiny'; aliases 'large', 'medium', 'small'"),
    (model_cfg('tiny_clip.py'), 'text_backbone.arch', 'xxl',
     "'b', 'l', 't'; aliases 'base', 'large', 'tiny'"),
])
def test_unknown_arch_name(cfg, key, name, allowed):
    assert build_error(cfg, key, name) == (
        f"{key} = '{name}': unknown arch (allowed: {allowed}; or a dict "
        'with keys embed_dims, mlp_ratio, num_heads, num_layers)')


def test_unknown_resnet_depth():
    assert build_error(TINY_MOCO, 'backbone.depth', 42) == (
        'backbone.depth = 42: unknown ResNet depth (allowed: 18, 34, 50, '
        '101, 152)')


def test_attention_heads_that_do_not_divide_the_width():
    arch = dict(embed_dims=32, num_layers=2, num_heads=5, mlp_ratio=2.0)
    assert build_error(TINY_MAE, 'backbone.arch', arch) == (
        'backbone.arch.num_heads = 5: must divide backbone.arch.embed_dims = '
        '32 into equal heads (allowed: 1, 2, 4, 8, 16, 32)')
    assert build_error(TINY_MAE, 'neck.decoder_num_heads', 3) == (
        'neck.decoder_num_heads = 3: must divide neck.decoder_dims = 16 into '
        'equal heads (allowed: 1, 2, 4, 8, 16)')
    clip = model_cfg('tiny_clip.py')
    text_arch = dict(clip['text_backbone']['arch'], num_heads=6)
    assert build_error(clip, 'text_backbone.arch', text_arch) == (
        'text_backbone.arch.num_heads = 6: must divide '
        'text_backbone.arch.embed_dims = 32 into equal heads (allowed: 1, 2, '
        '4, 8, 16, 32)')


@pytest.mark.parametrize('cfg, key, value, expected', [
    (TINY_MAE, 'neck.encoder_dims', 48,
     'neck.encoder_dims = 48: must equal the backbone width (allowed: 32)'),
    (TINY_MOCO, 'neck.in_channels', 2048,
     'neck.in_channels = 2048: must equal the backbone width (allowed: '
     '512)'),
    (TINY_MOCO, 'head.feat_dim', 32,
     'head.feat_dim = 32: must equal neck.out_channels (allowed: 16)'),
    (model_cfg('tiny_clip.py'), 'head.text_dims', 64,
     'head.text_dims = 64: must equal the text backbone width (allowed: '
     '32)'),
])
def test_heads_and_necks_that_do_not_match_the_backbone_width(
        cfg, key, value, expected):
    assert build_error(cfg, key, value) == expected


def test_classifier_head_must_match_a_resnet_too():
    cfg = dict(type='ImageClassifier',
               backbone=dict(type='ResNet', depth=18, out_indices=2),
               head=dict(type='LinearClsHead', num_classes=10,
                         in_channels=512))
    # Stage 2 of a ResNet-18 is 256 wide.
    with pytest.raises(ConfigError) as exc_info:
        MODELS.build(cfg)
    assert explain(exc_info.value) == (
        'head.in_channels = 512: must equal the backbone width (allowed: '
        '256)')


# --- the queue, which needs the data loader's batch size ------------------


def moco_train_cfg(queue_len, batch_size):
    cfg = Config.fromfile(str(FIXTURES / 'tiny_moco.py'))
    cfg.model.head.queue_len = queue_len
    cfg.train_dataloader.batch_size = batch_size
    return cfg


@pytest.mark.parametrize('launcher, world_size, allowed', [
    ('none', None, 8), ('pytorch', '3', 24), ('slurm', '2', 16)])
def test_queue_shorter_than_the_global_batch(monkeypatch, launcher,
                                             world_size, allowed):
    monkeypatch.setenv('WORLD_SIZE', world_size or '1')
    monkeypatch.setenv('SLURM_NTASKS', world_size or '1')
    cfg = moco_train_cfg(queue_len=7, batch_size=8)
    cfg.launcher = launcher
    with pytest.raises(ConfigError) as exc_info:
        check_method_config(cfg)
    processes = allowed // 8
    assert str(exc_info.value) == (
        'model.head.queue_len = 7: must hold at least one global batch of '
        'keys, train_dataloader.batch_size x processes = '
        f'8 x {processes} (allowed: queue_len >= {allowed})')


def test_queue_of_exactly_one_batch_and_configs_without_queue_pass():
    cfg = moco_train_cfg(queue_len=8, batch_size=8)
    cfg.launcher = 'none'
    check_method_config(cfg)
    mae = Config.fromfile(str(FIXTURES / 'tiny_mae.py'))
    mae.launcher = 'none'
    check_method_config(mae)


def test_train_tool_refuses_a_short_queue_in_one_line(tmp_path, capsys):
    train_tool = SimpleNamespace(**runpy.run_path(
        str(REPO / 'tools/train.py')))
    code = train_tool.main([
        str(FIXTURES / 'tiny_moco.py'), '--work-dir', str(tmp_path),
        '--cfg-options', 'model.head.queue_len=4'])
    assert code == 1
    (line, ) = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith('error:')]
    assert line == (
        'error: model.head.queue_len = 4: must hold at least one global '
        'batch of keys, train_dataloader.batch_size x processes = 8 x 1 '
        '(allowed: queue_len >= 8)')
    assert not list(tmp_path.glob('*.pth'))
