from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from pixpretrain.apis import init_model
from pixpretrain.registry import MODELS, register_all_modules
from pixpretrain.utils import CheckpointError, ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / 'fixtures'


def tiny_cfg(**overrides):
    cfg = Config.fromfile(str(FIXTURES / 'tiny_classifier.py'))
    cfg.merge_from_dict(dict(model=overrides))
    return cfg.model


def samples(labels):
    return [BaseDataElement(gt_label=torch.tensor(y)) for y in labels]


def test_loss_and_predict_shapes():
    register_all_modules()
    model = MODELS.build(tiny_cfg())
    images = torch.randn(4, 3, 32, 32)
    feature_map, cls_token = model.features(images)
    assert feature_map.shape == (4, 32, 4, 4)   # 32 px / patch 8
    assert cls_token.shape == (4, 32)
    loss = model.loss(images, samples([0, 1, 2, 3]))['loss']
    assert loss.ndim == 0 and torch.isfinite(loss)
    model.eval()
    predicted = model.predict(images, samples([0, 1, 2, 3]))
    assert predicted[0].pred_score.shape == (10, )
    assert predicted[0].pred_label == predicted[0].pred_score.argmax()


def test_global_local_head_plugs_in():
    register_all_modules()
    model = MODELS.build(tiny_cfg(head=dict(
        _delete_=True, type='GlobalLocalClsHead', in_channels=32,
        num_classes=10)))
    assert model.predict(torch.randn(2, 3, 32, 32))[0].pred_score.shape == \
        (10, )


def test_frozen_backbone_gets_no_gradient_and_stays_in_eval():
    register_all_modules()
    model = MODELS.build(tiny_cfg(frozen_backbone=True))
    model.train()
    assert not model.backbone.training and model.head.training
    model.loss(torch.randn(4, 3, 32, 32), samples([0, 1, 2, 3]))['loss'] \
        .backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.head.fc.weight.grad is not None


def test_parts_that_disagree_fail_at_build_time():
    register_all_modules()
    with pytest.raises(ConfigError, match='head.in_channels = 64: must equal'):
        MODELS.build(tiny_cfg(head=dict(in_channels=64)))


def test_backbone_checkpoint_loads_strictly(tmp_path):
    register_all_modules()
    pretrainer = init_model(str(FIXTURES / 'tiny_mae.py'))
    # tiny_mae: 32 px, patch 4; give the classifier the same backbone.
    cfg = tiny_cfg(backbone=dict(patch_size=4, drop_path_rate=0.0))
    path = tmp_path / 'mae.pth'
    torch.save({'state_dict': pretrainer.state_dict()}, path)
    model = MODELS.build(dict(cfg, backbone_checkpoint=str(path)))
    model.init_weights()
    for name, value in pretrainer.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[name], value), name

    state = pretrainer.state_dict()
    state.pop('backbone.cls_token')
    torch.save({'state_dict': state}, path)
    model = MODELS.build(dict(cfg, backbone_checkpoint=str(path)))
    with pytest.raises(CheckpointError, match='missing backbone.cls_token'):
        model.init_weights()
