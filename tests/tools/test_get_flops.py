"""tools/analysis/get_flops.py and pixpretrain.apis.analysis.complexity:
FLOPs against the ViT formula worked out by hand, parameters against
sum(p.numel()), the per-part split, one-line refusals."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from pixpretrain.apis.analysis.complexity import (model_complexity,
                                                  pipeline_crop_size)
from pixpretrain.registry import MODELS, register_all_modules

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
tool = SimpleNamespace(
    **runpy.run_path(str(REPO / 'tools/analysis/get_flops.py')))


def vit_flops(img, patch, dims, layers, mlp_ratio, channels=3):
    """A ViT's multiply-adds x 2, written out: patch embedding, then per
    block qkv, Q K^T, attention x V, projection and the two MLP layers,
    over the patches plus the class token."""
    patches = (img // patch)**2
    tokens = patches + 1
    hidden = int(dims * mlp_ratio)
    embed = 2 * patches * channels * patch * patch * dims
    block = (2 * tokens * dims * 3 * dims  # qkv
             + 2 * tokens * tokens * dims  # Q K^T, all heads
             + 2 * tokens * tokens * dims  # attention x V
             + 2 * tokens * dims * dims  # projection
             + 2 * 2 * tokens * dims * hidden)  # MLP in and out
    return embed + layers * block


def test_classifier_flops_and_params_match_the_hand_count():
    cfg = Config.fromfile(str(FIXTURES / 'tiny_classifier.py'))
    result = model_complexity(cfg)
    # tiny_classifier: 32 px, patch 8, 32 wide, 2 blocks, MLP ratio 2;
    # a linear head 32 -> 10.
    backbone = vit_flops(32, 8, 32, 2, 2.0)
    assert result['flops_per_part']['backbone'] == backbone
    assert result['flops_per_part']['head'] == 2 * 32 * 10
    assert result['flops'] == backbone + 2 * 32 * 10
    assert result['macs'] == result['flops'] / 2
    register_all_modules()
    model = MODELS.build(cfg.model)
    params = result['params']
    assert params['total']['total'] == sum(
        p.numel() for p in model.parameters())
    assert params['backbone']['total'] == sum(
        p.numel() for p in model.backbone.parameters())
    assert params['head']['total'] == 32 * 10 + 10


def test_vit_b16_at_224_matches_the_formula():
    # The published number: ViT-B/16 at 224 px is ~17.6 G multiply-adds.
    cfg = Config.fromfile(
        str(REPO / 'configs/finetune/mae_vit-b-p16_ft-100e.py'))
    cfg.model.head.num_classes = 10  # a smaller head; same backbone
    result = model_complexity(cfg)
    assert result['flops_per_part']['backbone'] == vit_flops(
        224, 16, 768, 12, 4.0)
    assert result['macs'] / 1e9 == pytest.approx(17.56, abs=0.01)


def test_momentum_encoder_is_counted_but_not_trainable():
    cfg = Config.fromfile(str(FIXTURES / 'tiny_moco.py'))
    result = model_complexity(cfg)
    params = result['params']
    frozen = params['momentum_encoder']
    assert frozen['trainable'] == 0 and frozen['total'] > 0
    assert params['total']['trainable'] == (
        params['total']['total'] - frozen['total'])
    # A ResNet fixes no size: the training crop's (32 px) is used.
    assert result['input'] == [1, 3, 32, 32]


def test_crop_size_is_found_inside_multiview():
    cfg = Config.fromfile(str(REPO / 'configs/mocov2/resnet50_200e.py'))
    assert pipeline_crop_size(cfg) == (224, 224)


def test_cli_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / 'flops.json'
    assert tool.main([str(FIXTURES / 'tiny_mae.py'), '--json',
                      str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'backbone' in printed and 'FLOPs per image' in printed
    result = json.loads(out.read_text())
    assert result['model'] == 'MAE'
    assert 'neck' in result['params']


def test_shape_that_does_not_fit_a_vit_is_one_line(capsys):
    code = tool.main([str(FIXTURES / 'tiny_mae.py'), '--shape', '64', '64'])
    err = capsys.readouterr().err
    assert code == 1 and err.count('\n') == 1
    assert 'img_size' in err and 'Traceback' not in err


@pytest.mark.parametrize('config', ['tiny_mae.py', 'tiny_classifier.py'])
def test_a_non_positive_shape_is_refused_before_counting(config):
    from pixpretrain.utils.errors import ConfigError
    cfg = Config.fromfile(str(FIXTURES / config))
    with pytest.raises(ConfigError, match='--shape -1 5: height and width'):
        model_complexity(cfg, (-1, 5))
