"""tools/train.py on a mistyped path, key, value or checkpoint: one line on
stderr naming it and the fix, exit 1, no traceback, the work dir untouched.

Every case but the last fails before anything is built, so none trains.
"""
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
TINY = str(FIXTURES / 'tiny_mae.py')
TINY_MOCO = str(FIXTURES / 'tiny_moco.py')
print_config = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/misc/print_config.py')))
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def snapshot(folder: Path) -> Dict[str, bytes]:
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture
def work_dir(tmp_path) -> Path:
    """A work dir holding an earlier run's files, which must survive."""
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'iter_4.pth').write_bytes(b'an earlier checkpoint')
    (work / 'notes.txt').write_text('keep me')
    return work


def one_line(argv: List[str], work_dir: Path, capsys,
             prefix: str = 'error:') -> str:
    """Run tools/train.py; check it refused in one stderr line without
    touching ``work_dir``, and return that line."""
    before = snapshot(work_dir)
    code = train_tool.main(argv + ['--work-dir', str(work_dir)])
    err = capsys.readouterr().err
    assert code != 0
    assert 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), lines[0]
    assert snapshot(work_dir) == before
    return lines[0]


def test_config_path_typo_names_the_file_and_its_neighbour(work_dir,
                                                            capsys):
    typo = str(FIXTURES / 'tiny_mea.py')
    line = one_line([typo], work_dir, capsys)
    assert f"config file '{typo}' does not exist" in line
    assert f"did you mean '{TINY}'?" in line
    # print_config shares the helper, so says the same.
    assert print_config.main([typo]) == 1
    assert capsys.readouterr().err.strip() == line


@pytest.mark.parametrize('text, expected', [
    ("model = dict(\n", "line 1: '(' was never closed; fix the Python "
     'syntax there'),
    ("_base_ = ['no_such_base.py']\n", "names '{folder}/no_such_base.py' "
     '(in _base_ or read_base), which does not exist'),
    ('max_iters = 8 / undefined_name\n',
     "could not be read: NameError: name 'undefined_name' is not defined"),
])
def test_config_file_that_does_not_load_names_file_and_line(
        tmp_path, work_dir, capsys, text, expected):
    config = tmp_path / 'broken.py'
    config.write_text(text)
    line = one_line([str(config)], work_dir, capsys)
    assert line.startswith(f"error: config file '{config}'"), line
    assert expected.format(folder=tmp_path) in line


@pytest.mark.parametrize('option, fix', [
    ('train_cfg.max_iter=2', 'did you mean train_cfg.max_iters?'),
    ('model.backbone.drop_pathh=0.1',
     'did you mean model.backbone.drop_path_rate?'),
    # tiny_mae's base config has `max_iters = 600` as a file variable.
    ('max_iters=20', 'did you mean train_cfg.max_iters?'),
    ('max_iter=20', 'did you mean train_cfg.max_iters?'),
    ('optimizer.lr=fast', 'did you mean optim_wrapper.optimizer.lr?'),
    ('optimizer.type=AdamWW', 'did you mean optim_wrapper.optimizer.type?'),
    ('train_dataloader.dataset.max_bad_fraction=0.05',
     'train_dataloader.dataset takes: img_size, indices'),
    ('custom_hooks.0.type=EMAHook',
     'custom_hooks has 0 entries, so there is no entry 0'),
    ('model.mask_ratio.low=0.5',
     'model.mask_ratio is 0.75, not a dict; set model.mask_ratio itself'),
    # mmengine's DictAction would set the part to the string 'dict(...)'
    ("model.neck=dict(type='MAEDecoder')",
     '--cfg-options cannot give a dict; set its keys one by one, e.g. '
     'model.neck.type=..., or edit the config file'),
    # CheckpointHook's **kwargs would fail at the first save, after training
    ('default_hooks.checkpoint.max_keep_ckpt=1',
     'did you mean default_hooks.checkpoint.max_keep_ckpts?'),
    # paramwise_cfg is read by the wrapper's constructor, not passed on
    ('optim_wrapper.paramwise_cfg.norm_decay_mul=0.0',
     'DefaultOptimWrapperConstructor (optim_wrapper.constructor) takes none '
     'of that name; did you mean optim_wrapper.paramwise_cfg.norm_decay_mult?'),
])
def test_unknown_option_key_names_the_closest_key(work_dir, capsys, option,
                                                  fix):
    line = one_line([TINY, '--cfg-options', option], work_dir, capsys)
    assert line.startswith(f'error: --cfg-options {option}: ')
    assert fix in line


@pytest.mark.parametrize('config, option', [
    ('tiny_mae.py', 'model.backbone.init_cfg.type=Pretrained'),
    ('tiny_mae.py', 'model.backbone.drop_path_rate=0.1'),
    ('tiny_mae.py', 'load_from=x.pth'),
    ('tiny_mae.py', 'resume=True'),
    ('tiny_mae.py', 'experiment_name=x'),
    ('tiny_mae.py', 'work_dir=x'),
    ('tiny_mae.py', 'randomness.seed=3'),
    ('tiny_mae.py', 'env_cfg.cudnn_benchmark=True'),
    ('tiny_mae.py', 'default_hooks.nonfinite=None'),
    ('tiny_mae.py', 'default_hooks.ema=None'),
    ('tiny_mae.py', 'train_cfg.val_interval=4'),
    ('tiny_mae.py', 'train_dataloader.pin_memory=True'),
    ('tiny_mae.py', 'optim_wrapper.clip_grad.max_norm=1.0'),
    ('tiny_mae.py', 'optim_wrapper.paramwise_cfg.custom_keys.x.lr_mult=0'),
    ('tiny_mae.py', 'compile=True'),
    ('tiny_mae.py', 'default_hooks.checkpoint.save_last=False'),
    ('tiny_moco.py', 'model.head.queue_len=40'),
    ('tiny_moco.py', 'model.shuffle_bn=False'),
    ('tiny_moco.py', 'val_cfg.bank_dataloader.dataset.num_samples=0'),
    ('tiny_mae_image_folder.py',
     'train_dataloader.dataset.max_bad_fraction=0.05'),
    ('tiny_igpt.py', 'train_dataloader.dataset.pipeline.0.palette=p.npy'),
])
def test_options_that_add_keys_something_reads_pass(config, option):
    from pixpretrain.apis import check_cfg_options
    key, value = option.split('=', 1)
    cfg = Config.fromfile(str(FIXTURES / config))
    check_cfg_options(cfg, {key: value})


@pytest.mark.parametrize('option, message', [
    ('optim_wrapper.optimizer.lr=fast',
     "optim_wrapper.optimizer.lr = 'fast': must be a positive number"),
    ('optim_wrapper.optimizer.lr=-1',
     'optim_wrapper.optimizer.lr = -1: must be a positive number'),
    ('optim_wrapper.optimizer.type=AdamWW',
     "optim_wrapper.optimizer.type: unknown type 'AdamWW' in registry "
     "'pixpretrain::optimizer'; closest registered names: AdamW"),
    ('train_dataloader.batch_size=0',
     'train_dataloader.batch_size = 0: must be a positive integer'),
    ('train_dataloader.batch_size=eight',
     "train_dataloader.batch_size = 'eight': must be a positive integer"),
    ('train_cfg.max_iters=-5',
     'train_cfg.max_iters = -5: must be a positive integer '
     '(allowed: max_iters >= 1)'),
    ('train_cfg.val_interval=0',
     'train_cfg.val_interval = 0: must be a positive integer'),
    ('model.neck=None', 'model.neck is missing: MAE needs a neck'),
    # torch's own optimizer checks, before anything is built
    ('optim_wrapper.optimizer.weight_decay=-1',
     'optim_wrapper.optimizer (AdamW): Invalid weight_decay value: -1; fix '
     'that setting'),
    ('optim_wrapper.optimizer.betas=(0.9,1.5)',
     'optim_wrapper.optimizer (AdamW): Invalid beta parameter at index 1: '
     '1.5'),
    ('train_dataloader.num_workers=-1',
     'train_dataloader.num_workers = -1: must be a non-negative integer'),
])
def test_bad_value_is_one_line_before_training(work_dir, capsys, option,
                                               message):
    line = one_line([TINY, '--cfg-options', option], work_dir, capsys)
    assert line.startswith(f'error: {message}')


def test_non_positive_epochs_are_refused(work_dir, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))  # its crash_hooks import
    line = one_line([str(FIXTURES / 'tiny_mae_epochs.py'), '--cfg-options',
                     'train_cfg.max_epochs=0'], work_dir, capsys)
    assert line == ('error: train_cfg.max_epochs = 0: must be a positive '
                    'integer (allowed: max_epochs >= 1)')


def test_moco_without_neck_is_refused(work_dir, capsys):
    line = one_line([TINY_MOCO, '--cfg-options', 'model.neck=None'],
                    work_dir, capsys)
    assert line.startswith('error: model.neck is missing: MoCo needs a neck')


def test_module_dict_without_type_is_refused(tmp_path, work_dir, capsys):
    config = tmp_path / 'no_head_type.py'
    config.write_text(f"_base_ = ['{TINY}']\n"
                      'model = dict(head=dict(_delete_=True, patch_size=4))\n')
    line = one_line([str(config)], work_dir, capsys)
    assert line.startswith('error: model.head has no type (keys: '
                           'patch_size): name its class, e.g. '
                           'model.head.type=')


def test_a_folder_given_as_the_checkpoint_says_so(tmp_path, work_dir,
                                                  capsys):
    line = one_line([TINY, '--resume', str(tmp_path)], work_dir, capsys)
    assert line.startswith(f"error: --resume '{tmp_path}': a folder, not a "
                           'checkpoint file; check the path')


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_missing_checkpoint_names_the_path(tmp_path, work_dir, capsys, how):
    missing = tmp_path / 'nowhere' / 'iter_4.pth'
    argv = ([TINY, '--resume', str(missing)] if how == 'resume' else
            [TINY, '--cfg-options', f'load_from={missing}'])
    line = one_line(argv, work_dir, capsys)
    shown = (f"--resume '{missing}'" if how == 'resume' else
             f"load_from = '{missing}'")
    assert line.startswith(f'error: {shown}: no such file; check the path')


@pytest.mark.parametrize('saved', ['wrapped', 'bare'])
def test_resuming_weights_only_points_to_load_from(tmp_path, work_dir,
                                                   capsys, saved):
    weights = {'backbone.cls_token': torch.zeros(1, 1, 32)}
    path = tmp_path / 'converted.pth'
    torch.save({'state_dict': weights} if saved == 'wrapped' else weights,
               path)
    line = one_line([TINY, '--resume', str(path)], work_dir, capsys)
    assert line == (
        f"error: --resume '{path}': the file holds weights only (no "
        'training state to resume: epoch, iteration, optimizer); to start a '
        f"new run from these weights use --cfg-options load_from='{path}' "
        'instead of --resume')


def test_bare_resume_with_nothing_to_resume_warns_once(work_dir, capsys):
    # mmengine logs before the Runner exists through its current logger; a
    # fresh one writes to this test's captured streams, not an earlier
    # test's closed ones ("--- Logging error ---").
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mistakes_bare_resume_setup')
    before = snapshot(work_dir)
    code = train_tool.main([
        TINY, '--work-dir', str(work_dir), '--resume', '--cfg-options',
        'train_cfg.max_iters=1', 'experiment_name=mistakes_bare_resume'])
    captured = capsys.readouterr()
    assert code == 0
    assert 'Traceback' not in captured.err
    lines = [line for line in captured.err.splitlines()
             if 'resume' in line.lower()]
    assert lines == [
        f"warning: nothing to resume in '{work_dir}' (no last_checkpoint "
        'there): training starts from scratch; pass --resume PATH to resume '
        'a checkpoint elsewhere']
    # mmengine's misleading "Auto resumed from the latest checkpoint None"
    # is not logged on top.
    assert 'resumed from' not in captured.out.lower()
    assert all(snapshot(work_dir)[name] == data
               for name, data in before.items())
    assert (work_dir / 'iter_1.pth').is_file()


@pytest.fixture(scope='module')
def moco_checkpoint(tmp_path_factory) -> Path:
    """Weights of another model (MoCo's ResNet) than tiny_mae's MAE."""
    from pixpretrain.apis import load_config
    from pixpretrain.registry import MODELS
    cfg = load_config(TINY_MOCO)
    model = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('moco') / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': dict(epoch=1, iter=8)}, path)
    return path


def refused_after_build(argv: List[str], work_dir: Path, capsys) -> str:
    """Run tools/train.py; check it refused in one stderr line, trained
    nothing and kept the work dir's files (the Runner, built to know the
    model, has added its log folder); return that line."""
    before = snapshot(work_dir)
    code = train_tool.main(argv + ['--work-dir', str(work_dir)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and 'Traceback' not in err and len(lines) == 1, err
    after = snapshot(work_dir)
    assert {k: after[k] for k in before} == before
    assert not any(name.endswith('.pth') for name in set(after) - set(
        before))
    return lines[0]


def test_load_from_another_models_weights_is_refused(work_dir, capsys,
                                                     moco_checkpoint):
    line = refused_after_build(
        [TINY, '--cfg-options', f'load_from={moco_checkpoint}'], work_dir,
        capsys)
    assert line.startswith(f"error: load_from '{moco_checkpoint}' shares "
                           'no weight name with MAE (its keys begin '
                           'backbone.')
    assert line.endswith('give a checkpoint of this model, or convert it '
                         'first (tools/model_converters)')


def test_load_from_weights_of_other_sizes_is_refused(tmp_path, work_dir,
                                                     capsys):
    path = tmp_path / 'wide.pth'
    torch.save({'backbone.cls_token': torch.zeros(1, 1, 48)}, path)
    line = refused_after_build(
        [TINY, '--cfg-options', f'load_from={path}'], work_dir, capsys)
    assert line == (f"error: load_from '{path}' does not fit MAE: no shared "
                    "weight has the model's shape (checkpoint vs model: "
                    'backbone.cls_token (1, 1, 48) vs (1, 1, 32)); mmengine '
                    'would load nothing: give the checkpoint of a model with '
                    'these sizes')


def test_resuming_another_models_run_is_refused(work_dir, capsys,
                                                moco_checkpoint):
    line = refused_after_build([TINY, '--resume', str(moco_checkpoint)],
                               work_dir, capsys)
    assert line.startswith(f"error: '{moco_checkpoint}' does not fit MAE")
    assert 'missing backbone.' in line


def test_a_drop_path_rate_above_one_is_refused_at_build(work_dir, capsys):
    line = refused_after_build(
        [TINY, '--cfg-options', 'model.backbone.drop_path_rate=2'], work_dir,
        capsys)
    assert line == ("error: drop_path_rate = 2: is the last block's "
                    'probability of skipping its branch (allowed: 0 <= '
                    'drop_path_rate < 1, e.g. 0.1)')


def test_layer_decay_reads_its_rate_alone(work_dir, capsys):
    # It groups parameters itself: mmengine's multipliers would be ignored.
    config = str(FIXTURES / 'tiny_classifier.py')
    line = one_line([config, '--cfg-options',
                     'optim_wrapper.paramwise_cfg.norm_decay_mult=0.5'],
                    work_dir, capsys)
    assert line.endswith('LayerDecayOptimWrapperConstructor '
                         '(optim_wrapper.constructor) takes none of that '
                         'name; optim_wrapper.paramwise_cfg takes: '
                         'layer_decay_rate')


def test_resume_path_and_another_load_from_are_refused(tmp_path, work_dir,
                                                       capsys):
    line = one_line([TINY, '--resume', str(work_dir / 'iter_4.pth'),
                     '--cfg-options', 'load_from=other.pth'], work_dir,
                    capsys)
    assert line == (f"error: --resume '{work_dir / 'iter_4.pth'}' continues "
                    "that run, so load_from = 'other.pth' would be ignored: "
                    'drop one of them')


def test_bare_resume_with_nothing_to_resume_starts_from_load_from(
        tmp_path, capsys):
    from mmengine.logging import MMLogger

    from pixpretrain.apis import load_config
    from pixpretrain.registry import MODELS
    MMLogger.get_instance('mistakes_resume_fallback_setup')
    model = MODELS.build(load_config(TINY).model)
    weights = model.state_dict()
    weights['backbone.cls_token'] = torch.full_like(
        weights['backbone.cls_token'], 7.0)
    start = tmp_path / 'pretrained.pth'
    torch.save({'state_dict': weights}, start)
    work_dir = tmp_path / 'fresh'
    code = train_tool.main([
        TINY, '--work-dir', str(work_dir), '--resume', '--cfg-options',
        f'load_from={start}', 'train_cfg.max_iters=1',
        'experiment_name=mistakes_resume_fallback'])
    assert code == 0
    assert (f"warning: nothing to resume in '{work_dir}' (no last_checkpoint "
            f"there): training starts from load_from '{start}'"
            ) in capsys.readouterr().err
    from pixpretrain.utils.checkpoint import safe_load
    trained = safe_load(str(work_dir / 'iter_1.pth'),
                        map_location='cpu')['state_dict']
    # one small step away from the weights it started from, not a new init
    assert (trained['backbone.cls_token'] - 7.0).abs().max() < 0.1


def test_a_constructor_subclass_that_names_no_keys_takes_any(monkeypatch):
    from pixpretrain.apis.config_checks.readers import accepted_keys
    from pixpretrain.engine.optimizers.layer_decay import \
        LayerDecayOptimWrapperConstructor
    from pixpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS

    @OPTIM_WRAPPER_CONSTRUCTORS.register_module(force=True)
    class LayerDecayPlus(LayerDecayOptimWrapperConstructor):
        """Reads layer_decay_rate and keys of its own."""

    def keys(constructor):
        return accepted_keys({}, ['optim_wrapper', 'paramwise_cfg'],
                             'pixpretrain', dict(optim_wrapper=dict(
                                 constructor=constructor)))[1]

    assert keys('LayerDecayOptimWrapperConstructor') == {'layer_decay_rate'}
    assert keys('LayerDecayPlus') is None  # not inherited
    assert 'norm_decay_mult' in keys('DefaultOptimWrapperConstructor')


def test_a_list_of_dicts_in_an_option_names_the_entry_keys(work_dir, capsys):
    line = one_line([TINY, '--cfg-options',
                     "train_dataloader.dataset.pipeline=[dict(type='Pack"
                     "Inputs')]"], work_dir, capsys)
    assert line.endswith('--cfg-options cannot give a dict; set its keys one '
                         'by one, e.g. train_dataloader.dataset.pipeline.0.'
                         'type=..., or edit the config file')
