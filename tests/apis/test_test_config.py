"""prepare_test_config / resolve_test_loop: which test loop a config gets,
read from the real configs (nothing built)."""
from pathlib import Path

import pytest
from mmengine.config import Config

from pixpretrain.apis.test import prepare_test_config, resolve_test_loop
from pixpretrain.utils.errors import ConfigError, PathNotFoundError

REPO = Path(__file__).resolve().parents[2]


def load(path):
    return Config.fromfile(str(REPO / path))


def test_clip_keeps_its_own_zero_shot_test():
    cfg = load('configs/clip/vit-tiny-p8_cifar10-captions.py')
    assert resolve_test_loop(cfg) == 'test'
    assert cfg.test_evaluator.type == 'ZeroShotAccuracy'


def test_knn_monitor_becomes_a_knn_test_with_the_same_bank():
    cfg = load('configs/mocov2/resnet18_cifar10.py')
    assert 'test_cfg' not in cfg
    assert resolve_test_loop(cfg) == 'val'
    assert cfg.test_cfg.type == 'KNNTestLoop'
    assert cfg.test_cfg.bank_dataloader == cfg.val_cfg.bank_dataloader
    assert cfg.test_evaluator == cfg.val_evaluator
    assert cfg.test_dataloader.dataset.split == 'test'


def test_fine_tuning_config_tests_with_test_loop():
    cfg = load('configs/finetune/mae_vit-t-p4_cifar10_ft-15e.py')
    assert resolve_test_loop(cfg) == 'test'
    assert cfg.test_evaluator.type == 'Accuracy'


def test_partial_test_keys_name_the_missing_one():
    cfg = Config(dict(test_dataloader=dict(), test_evaluator=dict()))
    with pytest.raises(ConfigError, match='not test_cfg'):
        resolve_test_loop(cfg)


def test_pretraining_config_without_metrics_is_refused():
    cfg = load('configs/mae/vit-t-p4_cifar10.py')
    with pytest.raises(ConfigError, match='missing: val_dataloader'):
        resolve_test_loop(cfg)


def test_prepare_sets_weights_only_load_and_work_dir(tmp_path):
    checkpoint = tmp_path / 'w.pth'
    checkpoint.write_bytes(b'')
    cfg = load('configs/finetune/mae_vit-t-p4_cifar10_ft-15e.py')
    cfg.resume = True
    cfg = prepare_test_config(cfg, 'configs/x/my_cfg.py', str(checkpoint))
    assert (cfg.load_from, cfg.resume) == (str(checkpoint), False)
    assert cfg.work_dir.endswith('work_dirs/my_cfg')
    with pytest.raises(PathNotFoundError, match='no such file'):
        prepare_test_config(cfg, 'c.py', str(tmp_path / 'missing.pth'))
