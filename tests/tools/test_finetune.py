"""Fine-tuning and Runner linear probing: the configs build, and a tiny
classifier trains and validates through tools/train.py (seconds, CPU)."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from pixpretrain.registry import MODELS, register_all_modules

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_classifier.py')
LINEAR = str(REPO / 'tests' / 'fixtures' / 'tiny_linear.py')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def train(argv, name):
    return train_tool.main(argv + ['--cfg-options', f'experiment_name={name}'])


def scalars(work_dir):
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_fine_tunes_with_mixup_and_validates(tmp_path):
    assert train([TINY, '--work-dir', str(tmp_path)], 'finetune') == 0
    records = scalars(tmp_path)
    assert any('loss' in r for r in records)
    (val, ) = [r for r in records if 'accuracy/top1' in r]
    assert 0.0 <= val['accuracy/top1'] <= val['accuracy/top5'] <= 100.0


def test_frozen_linear_probe_leaves_the_backbone_unchanged(tmp_path):
    # Weight decay on frozen parameters would move them: the hook checks.
    assert train([LINEAR, '--work-dir', str(tmp_path)], 'frozen') == 0
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'frozen backbone unchanged after training' in log


@pytest.mark.parametrize('config, classes', [
    ('configs/finetune/mae_vit-b-p16_ft-100e.py', 1000),
    ('configs/finetune/mae_vit-t-p4_cifar10_ft-15e.py', 10),
    ('configs/finetune/mae_vit-t-p4_cifar10_ft-15e_global-local.py', 10),
    ('configs/finetune/mae_vit-t-p4_cifar10_linear.py', 10),
    ('configs/finetune/mae_vit-t-p4_cifar10_linear_10k.py', 10),
])
def test_recipes_build(config, classes):
    register_all_modules()
    cfg = Config.fromfile(str(REPO / config))
    model = MODELS.build(cfg.model)
    assert model.head.num_classes == classes
    if 'linear' in config:
        assert model.frozen_backbone and model.batch_augments is None
    else:
        assert model.head.label_smoothing == 0.1
        assert model.batch_augments.mixup_alpha == 0.8
        assert model.batch_augments.cutmix_alpha == 1.0
        assert model.backbone.blocks[-1].drop_path.drop_prob == \
            pytest.approx(0.1)
        assert cfg.optim_wrapper.constructor == \
            'LayerDecayOptimWrapperConstructor'


def test_igpt_joint_fine_tune_recipe_builds():
    register_all_modules()
    cfg = Config.fromfile(
        str(REPO / 'configs/finetune/igpt-nano_ar_cifar10-16_ft-clf.py'))
    model = MODELS.build(cfg.model)
    assert model.ar_head is not None
    assert model.cls_head.num_classes == 10
    assert model.cls_head.embed_dims == model.backbone.embed_dims
    assert cfg.val_dataloader.dataset.split == 'test'
    assert cfg.val_evaluator.type == 'Accuracy'


def test_igpt_pretraining_checkpoints_fit_the_fine_tune_model():
    # load_from is not strict: a renamed head would load nothing and only
    # warn. Every pretrained tensor must land, and only the classifier is new.
    register_all_modules()
    pretrain = MODELS.build(Config.fromfile(
        str(REPO / 'configs/igpt/igpt-nano_ar_cifar10-16.py')).model)
    tune = MODELS.build(Config.fromfile(
        str(REPO / 'configs/finetune/igpt-nano_ar_cifar10-16_ft-clf.py')
    ).model)
    pretrained, tuned = pretrain.state_dict(), tune.state_dict()
    assert set(pretrained) <= set(tuned)
    assert all(pretrained[k].shape == tuned[k].shape for k in pretrained)
    assert set(tuned) - set(pretrained) == {'head.clf.fc.weight',
                                            'head.clf.fc.bias'}
