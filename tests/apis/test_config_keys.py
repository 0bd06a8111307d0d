"""check_config_keys (run by load_config): a key of a typed dict that its
class does not take is one ConfigError naming it, anywhere in the file;
every shipped config passes."""
from pathlib import Path

import pytest

from pixpretrain.apis import load_config
from pixpretrain.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'


def write(tmp_path: Path, base: str, body: str) -> str:
    config = tmp_path / 'config.py'
    config.write_text(f"_base_ = ['{FIXTURES / base}']\n{body}")
    return str(config)


@pytest.mark.parametrize('body, message', [
    # a typo in a part with an explicit signature
    ('model = dict(backbone=dict(patch_szie=8))\n',
     "model.backbone.patch_szie: VisionTransformer takes no option "
     "'patch_szie'.*did you mean model.backbone.patch_size\\?"),
    # MAE takes **kwargs and passes them to its parent: checked there
    ('model = dict(mask_ration=0.5)\n',
     "model.mask_ration: MAE takes no option.*did you mean "
     'model.mask_ratio\\?'),
    # in a list: a transform of the pipeline
    ('train_dataloader = dict(dataset=dict(pipeline=[dict(type='
     "'PackInputs', input_key='x')]))\n",
     'train_dataloader.dataset.pipeline.0.input_key: PackInputs'),
    # a default class: the logger hook's
    ('default_hooks = dict(logger=dict(intervall=5))\n',
     'default_hooks.logger.intervall: LoggerHook.*did you mean '
     'default_hooks.logger.interval\\?'),
])
def test_an_unknown_key_is_one_error_naming_it(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, 'tiny_mae.py', body))


def test_keys_the_runner_reads_before_building_pass(tmp_path):
    load_config(write(
        tmp_path, 'tiny_mae.py',
        "custom_hooks = [dict(type='NonFiniteLossHook', priority='LOW')]\n"
        "param_scheduler = [dict(type='CosineAnnealingLR', T_max=2, "
        'by_epoch=True, convert_to_iter_based=True)]\n'))


@pytest.mark.parametrize('body', [
    # mmengine's typeless loops: Runner.build_train_loop reads by_epoch
    'train_cfg = dict(_delete_=True, by_epoch=True, max_epochs=2)\n',
    'train_cfg = dict(_delete_=True, by_epoch=False, max_iters=2)\n',
    # an initializer's override and the submodule it names
    "model = dict(backbone=dict(init_cfg=[dict(type='Normal', layer="
    "'Linear', std=0.01, override=dict(type='Constant', name="
    "'patch_embed', val=0))]))\n",
    # another package's **kwargs may go anywhere: here the inner optimizer
    "optim_wrapper = dict(optimizer=dict(_delete_=True, type="
    "'ZeroRedundancyOptimizer', optimizer_type='AdamW', lr=1e-3))\n",
    # one optimizer wrapper per part (an OptimWrapperDict)
    "optim_wrapper = dict(_delete_=True, constructor='MyConstructor', "
    "backbone=dict(type='OptimWrapper', optimizer=dict(type='AdamW')))\n",
])
def test_valid_mmengine_forms_pass(tmp_path, body):
    load_config(write(tmp_path, 'tiny_mae.py', body))


def test_timm_keys_are_left_to_timm(tmp_path):
    # TimmBackbone passes unknown keys to timm.create_model, which checks
    # them when the model is built (test_timm_backbone.py).
    load_config(write(tmp_path, 'tiny_moco_timm.py',
                      'model = dict(backbone=dict(drop_path_rate=0.1))\n'))


@pytest.mark.parametrize(
    'config', sorted(str(p.relative_to(REPO)) for p in
                     (REPO / 'configs').rglob('*.py')
                     if '_base_' not in p.parts))
def test_every_shipped_config_passes(config, monkeypatch):
    from pixpretrain.apis.config_checks import keys
    warnings = []
    monkeypatch.setattr(keys, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    load_config(str(REPO / config))
    assert warnings == []  # its variables are not taken for typos


@pytest.mark.parametrize('typo, meant', [('resum', 'resume'),
                                         ('load_frm', 'load_from'),
                                         ('work_dirs', 'work_dir')])
def test_a_top_level_typo_of_a_runner_key_warns(tmp_path, monkeypatch, typo,
                                                meant):
    from pixpretrain.apis.config_checks import keys
    warnings = []
    monkeypatch.setattr(keys, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    load_config(write(tmp_path, 'tiny_mae.py',
                      f"{typo} = 'x'\ntrain_pipeline = []\n"))
    assert warnings == [f"config key '{typo}' is read by nothing: did you "
                        f"mean '{meant}'? (rename it if it is a variable of "
                        'the file)']


@pytest.mark.parametrize('body, message', [
    ("train_dataloader = dict(dataset=dict(pipeline=[dict(type="
     "'RandomResizedCrop'), dict(type='PackInputs')]))\n",
     r'train_dataloader.dataset.pipeline.0: RandomResizedCrop needs size: '
     r'add train_dataloader.dataset.pipeline.0.size=...'),
    ("model = dict(neck=dict(_delete_=True, type='NonLinearNeck', "
     "in_channels=32))\n",
     r'model.neck: NonLinearNeck needs hid_channels, out_channels'),
])
def test_a_required_argument_left_out_is_one_error(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, 'tiny_mae.py', body))
