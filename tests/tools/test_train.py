"""tools/train.py end to end on tiny configs (seconds each, CPU)."""
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
FIXTURES = str(REPO / 'tests' / 'fixtures')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


class train:
    """tools/train.py in this process, one experiment name per run.

    mmengine keys its logger and visualizer by config name + timestamp (in
    seconds), so two runs in one second would share them.
    """
    runs = 0

    @classmethod
    def main(cls, argv):
        cls.runs += 1
        return train_tool.main(
            argv + ['--cfg-options', f'experiment_name=run{cls.runs}'])


def scalars(work_dir):
    """Per-iteration records of mmengine's JSON scalar log."""
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in log.read_text().splitlines()]


def run_tool(*args, cwd=REPO, env_extra=None):
    # This checkout's package first, not whichever one pip installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), FIXTURES]),
               **(env_extra or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_trains_and_writes_checkpoint(tmp_path, capsys):
    assert train.main([TINY, '--work-dir', str(tmp_path)]) == 0
    assert (tmp_path / 'iter_8.pth').is_file()
    assert f'checkpoint: {tmp_path}/iter_8.pth' in capsys.readouterr().out


def test_resume_continues_at_the_right_iteration_and_lr(tmp_path):
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    assert train.main([TINY, '--work-dir', str(full)]) == 0
    assert train.main([
        TINY, '--work-dir', str(resumed), '--resume',
        str(full / 'iter_4.pth')
    ]) == 0
    first = {r['iter']: r['lr'] for r in scalars(full) if 'lr' in r}
    second = {r['iter']: r['lr'] for r in scalars(resumed) if 'lr' in r}
    assert sorted(second) == [5, 6, 7, 8]  # nothing before the checkpoint
    for it in second:
        assert second[it] == pytest.approx(first[it], rel=1e-9)
    state = torch.load(resumed / 'iter_8.pth', weights_only=False)
    assert state['meta']['iter'] == 8


def test_auto_resume_finds_the_latest_checkpoint(tmp_path):
    assert train.main([TINY, '--work-dir', str(tmp_path), '--cfg-options',
                       'train_cfg.max_iters=4']) == 0
    assert train.main([TINY, '--work-dir', str(tmp_path), '--resume']) == 0
    # Both runs' logs together hold every iteration exactly once (two runs
    # in the same second share mmengine's timestamped log folder).
    iters = [
        json.loads(line)['iter']
        for log in Path(tmp_path).glob('*/vis_data/scalars.json')
        for line in log.read_text().splitlines() if 'lr' in json.loads(line)
    ]
    assert sorted(iters) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_module_from_outside_the_package_via_custom_imports(
        tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)
    config = tmp_path / 'plugin_cfg.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        "custom_imports = dict(imports=['pixpretrain_test_plugin'], "
        "allow_failed_imports=False)\n"
        "model = dict(head=dict(type='L1MAEHead'))\n"
        "train_cfg = dict(max_iters=3)\n")
    assert train.main([str(config), '--work-dir', str(tmp_path / 'w')]) == 0
    from pixpretrain_test_plugin import L1MAEHead
    state = torch.load(tmp_path / 'w' / 'iter_3.pth', weights_only=False)
    assert 'L1MAEHead' in state['meta']['cfg']
    assert L1MAEHead.__module__ == 'pixpretrain_test_plugin'


def test_missing_imagenet_is_one_clear_line(tmp_path):
    result = run_tool(str(REPO / 'tools' / 'train.py'),
                      str(REPO / 'configs' / 'mae' / 'vit-b_800e.py'),
                      '--work-dir', str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    error = [line for line in result.stderr.splitlines()
             if line.startswith('error:')]
    assert len(error) == 1
    assert 'data/imagenet/train' in error[0]
    assert 'docs/data_preparation.md' in error[0]


def test_unknown_type_names_registry_and_neighbours(tmp_path, capsys):
    code = train.main([
        TINY, '--work-dir', str(tmp_path), '--cfg-options',
        'model.backbone.type=VisionTransfomer'
    ])
    err = capsys.readouterr().err
    assert code == 1
    assert "unknown type 'VisionTransfomer'" in err
    assert 'pixpretrain::model' in err and 'VisionTransformer' in err


def test_not_a_checkpoint_is_one_clear_line(tmp_path, capsys):
    bogus = tmp_path / 'bogus.pth'
    bogus.write_text('not a checkpoint')
    code = train.main([TINY, '--work-dir', str(tmp_path), '--resume',
                       str(bogus)])
    assert code == 1
    assert 'is not a PyTorch checkpoint' in capsys.readouterr().err


@pytest.mark.distributed
def test_two_process_gloo_run_ends_with_identical_weights(tmp_path):
    config = tmp_path / 'dist_cfg.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        "custom_imports = dict(imports=['pixpretrain_test_plugin'], "
        "allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='DumpWeightsHook')]\n"
        "train_cfg = dict(max_iters=4)\n")
    result = run_tool(
        '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--standalone', str(REPO / 'tools' / 'train.py'), str(config),
        '--work-dir', str(tmp_path / 'w'), '--launcher', 'pytorch',
        env_extra=dict(OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / 'w' / 'weights_rank0.pth')
    rank1 = torch.load(tmp_path / 'w' / 'weights_rank1.pth')
    initial = torch.load(tmp_path / 'w' / 'iter_4.pth',
                         weights_only=False)['state_dict']
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert torch.equal(rank0['backbone.cls_token'],
                       initial['backbone.cls_token'])
