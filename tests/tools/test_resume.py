"""Crash and resume: a training process killed with SIGKILL, mid-epoch or
halfway through writing a checkpoint, resumes and ends with the weights of
a run never interrupted, bit for bit (CPU, deterministic mode, one thread).

The runs are tools/train.py subprocesses on tests/fixtures/
tiny_mae_epochs.py (2 epochs of 8 iterations, a checkpoint every 5
iterations); test-only hooks in tests/fixtures/crash_hooks.py kill the
process at a chosen point and record the samples of every iteration.
"""
import json
import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pixpretrain.utils import safe_load

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
EPOCHS = str(FIXTURES / 'tiny_mae_epochs.py')
TRAIN = str(REPO / 'tools' / 'train.py')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def train(config, work_dir, *args):
    """tools/train.py in a fresh process: one thread, this checkout."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO), str(FIXTURES)]))
    return subprocess.run(
        [sys.executable, TRAIN, str(config), '--work-dir', str(work_dir),
         *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=600)


def config_with_hooks(tmp_path, *hooks, base=EPOCHS, **overrides):
    """A config file: ``base`` plus these custom hooks and overrides."""
    lines = [f'_base_ = [{base!r}]',
             f'custom_hooks = [{", ".join(hooks)}]']
    lines += [f'{key} = {value}' for key, value in overrides.items()]
    path = tmp_path / f'config_{len(list(tmp_path.glob("config_*")))}.py'
    path.write_text('\n'.join(lines) + '\n')
    return path


def samples(work_dir):
    """{iteration: [sample indices]} as RecordSamplesHook wrote them, in
    the order the iterations ran (a repeated iteration raises)."""
    records = {}
    for line in (Path(work_dir) / 'samples.jsonl').read_text().splitlines():
        record = json.loads(line)
        records.setdefault(record['iter'], []).append(record['samples'])
    return records


def pointer(work_dir):
    return (Path(work_dir) / 'last_checkpoint').read_text()


def assert_same_training_state(got_path, expected_path):
    got, expected = safe_load(str(got_path)), safe_load(str(expected_path))
    assert got['meta']['iter'] == expected['meta']['iter']
    assert got['state_dict'].keys() == expected['state_dict'].keys()
    for key, value in expected['state_dict'].items():
        assert torch.equal(got['state_dict'][key], value), key
    moments = expected['optimizer']['state']
    assert got['optimizer']['state'].keys() == moments.keys()
    for param, state in moments.items():
        for name, value in state.items():
            assert torch.equal(got['optimizer']['state'][param][name],
                               value), (param, name)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    result = train(EPOCHS, work_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir


def test_killed_mid_epoch_resumes_to_identical_weights(tmp_path,
                                                       uninterrupted):
    work_dir = tmp_path / 'w'
    killed = train(
        config_with_hooks(tmp_path, "dict(type='RecordSamplesHook')",
                          "dict(type='KillAtIterHook', at_iter=12)"),
        work_dir)
    assert killed.returncode == -signal.SIGKILL
    # Killed in epoch 2 after iteration 12; the last checkpoint is from
    # iteration 10, two batches into that epoch.
    assert pointer(work_dir) == str(work_dir / 'iter_10.pth')
    assert not (work_dir / 'iter_15.pth').exists()

    resumed = train(EPOCHS, work_dir, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 10' in resumed.stdout

    assert_same_training_state(work_dir / 'iter_16.pth',
                               uninterrupted / 'iter_16.pth')
    # Data order: the resumed run trained iterations 11-16 on the samples
    # the uninterrupted run used for them, and no more (mmengine's own loop
    # restarts the epoch: 18 iterations, the first two epochs' batches
    # again).
    expected, got = samples(uninterrupted), samples(work_dir)
    assert sorted(got) == list(range(1, 17))
    for it in range(1, 11):
        assert got[it] == [expected[it][0]]
    for it in (11, 12):  # once before the kill, once after the resume
        assert got[it] == [expected[it][0]] * 2
    for it in range(13, 17):
        assert got[it] == [expected[it][0]]
    second_epoch = [i for it in range(9, 17) for i in expected[it][0]]
    assert sorted(second_epoch) == list(range(64))


@pytest.mark.parametrize('target', ['checkpoint', 'pointer'])
def test_killed_while_saving_leaves_a_complete_checkpoint(
        tmp_path, uninterrupted, target):
    """SIGKILL halfway through writing iteration 10's checkpoint, or the
    pointer after it, with max_keep_ckpts=1 (mmengine's hook deletes
    iteration 5's file before writing iteration 10's)."""
    work_dir = tmp_path / 'w'
    config = config_with_hooks(
        tmp_path,
        f"dict(type='KillWhileWritingHook', at_iter=10, target={target!r})",
        default_hooks='dict(checkpoint=dict(max_keep_ckpts=1))')
    crashed = train(config, work_dir)
    assert crashed.returncode == -signal.SIGKILL

    assert pointer(work_dir) == str(work_dir / 'iter_5.pth')
    assert safe_load(pointer(work_dir))['meta']['iter'] == 5
    (partial, ) = work_dir.glob('.*.tmp')
    if target == 'checkpoint':
        assert partial.name.startswith('.iter_10.pth.')
        assert not (work_dir / 'iter_10.pth').exists()
        assert 0 < partial.stat().st_size < (work_dir /
                                             'iter_5.pth').stat().st_size
    else:
        assert partial.name.startswith('.last_checkpoint.')
        new_pointer = str(work_dir / 'iter_10.pth')
        assert partial.read_text() == new_pointer[:len(new_pointer) // 2]
        assert safe_load(str(work_dir / 'iter_10.pth'))['meta']['iter'] == 10

    if target == 'pointer':
        return  # resuming from iteration 5 is the case above
    # resume = True in the config: auto-resume from the pointer.
    resumed = train(EPOCHS, work_dir, '--cfg-options', 'resume=True')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 5' in resumed.stdout
    # A set-up note: in the run's log file, not on its brief console.
    assert any(f'removed {partial}' in log.read_text()
               for log in work_dir.glob('*/*.log'))
    assert not list(work_dir.glob('.*.tmp'))
    assert_same_training_state(work_dir / 'iter_16.pth',
                               uninterrupted / 'iter_16.pth')


class _Runs:
    count = 0


def train_here(config, work_dir, *args):
    """tools/train.py in this process (its own experiment name)."""
    _Runs.count += 1
    return train_tool.main([
        str(config), '--work-dir', str(work_dir), *args, '--cfg-options',
        f'experiment_name=resume_here{_Runs.count}'
    ])


@pytest.mark.parametrize('checkpoint', ['iter_4.pth', 'iter_8.pth'])
def test_iteration_based_loop_resumes_exactly(tmp_path, monkeypatch,
                                              checkpoint):
    """ResumableIterBasedTrainLoop over 1.5 passes of the data: resumed in
    the first pass and exactly at the pass boundary."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    config = config_with_hooks(
        tmp_path, "dict(type='RecordSamplesHook')",
        train_cfg="dict(_delete_=True, type='ResumableIterBasedTrainLoop', "
        'max_iters=12)',
        default_hooks='dict(checkpoint=dict(interval=4, max_keep_ckpts=3))',
        log_processor='dict(by_epoch=False)',
        # In-process: keep torch's global deterministic switch untouched.
        randomness='dict(seed=0, deterministic=False)')
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    assert train_here(config, full) == 0
    assert train_here(config, resumed, '--resume',
                      str(full / checkpoint)) == 0
    assert_same_training_state(resumed / 'iter_12.pth', full / 'iter_12.pth')
    expected, got = samples(full), samples(resumed)
    first = int(checkpoint[len('iter_'):-len('.pth')]) + 1
    assert sorted(got) == list(range(first, 13))
    assert all(got[it] == expected[it] for it in got)


def test_cappa_resumes_its_step_schedule(tmp_path, monkeypatch):
    """CapPa's autoregressive steps (every second one here) go on where
    they were: resumed after an odd number of steps, the next is
    autoregressive, as in the run never stopped."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    config = config_with_hooks(
        tmp_path, base=str(FIXTURES / 'tiny_cappa.py'),
        train_cfg="dict(_delete_=True, type='ResumableIterBasedTrainLoop', "
        'max_iters=6, val_interval=6)',
        default_hooks='dict(checkpoint=dict(interval=3, max_keep_ckpts=2))',
        randomness='dict(seed=0, deterministic=False)')
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    assert train_here(config, full) == 0
    assert train_here(config, resumed, '--resume',
                      str(full / 'iter_3.pth')) == 0
    assert int(safe_load(str(resumed / 'iter_6.pth'))['state_dict'][
        'head.loss_calls']) == 6
    assert_same_training_state(resumed / 'iter_6.pth', full / 'iter_6.pth')


MOCO = str(FIXTURES / 'tiny_moco.py')
# Overrides that make tiny_moco a 2-epoch run of 8 iterations each with a
# kNN validation after every epoch, its lr schedule planned by iteration.
MOCO_EPOCHS = dict(
    train_cfg="dict(_delete_=True, type='ResumableEpochBasedTrainLoop', "
    'max_epochs=2, val_interval=1)',
    param_scheduler="[dict(type='CosineAnnealingLR', T_max=16, "
    'by_epoch=False, begin=0, end=16)]',
    log_processor='dict(by_epoch=True)')
RUNS = {
    'mae': (EPOCHS, ["dict(type='RecordSamplesHook')"], {}),
    'moco': (MOCO, [], MOCO_EPOCHS),
}


@pytest.mark.parametrize('method', sorted(RUNS))
def test_resume_from_every_checkpoint_of_two_epochs(tmp_path, monkeypatch,
                                                    method):
    """A 2-epoch run saves a checkpoint after every iteration and after
    every epoch's end hooks (MoCo then validates); a run resumed from any of
    them ends with the uninterrupted run's weights, optimizer state and
    iteration, bit for bit. The checkpoints of an epoch's last batch are
    the case mmengine's bookkeeping got wrong: the epoch's skip emptied the
    next epoch, which then ended the run one epoch short."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    base, hooks, overrides = RUNS[method]
    # In-process runs: keep torch's global deterministic switch untouched.
    overrides = dict(overrides,
                     randomness='dict(seed=0, deterministic=False)')
    every_checkpoint = config_with_hooks(
        tmp_path, *hooks,
        "dict(type='AtomicCheckpointHook', by_epoch=True, interval=1, "
        'max_keep_ckpts=-1)',
        base=base,
        default_hooks='dict(checkpoint=dict(by_epoch=False, interval=1, '
        'max_keep_ckpts=-1))',
        **overrides)
    # Resumed runs save once, at the end of the second epoch.
    at_the_end = config_with_hooks(
        tmp_path, *hooks, base=base,
        default_hooks='dict(checkpoint=dict(by_epoch=True, interval=2, '
        'max_keep_ckpts=1))',
        **overrides)
    full = tmp_path / 'full'
    assert train_here(every_checkpoint, full) == 0
    checkpoints = [f'iter_{i}.pth' for i in range(1, 16)] + ['epoch_1.pth']
    for name in checkpoints + ['iter_16.pth']:
        assert (full / name).is_file(), name
    assert safe_load(str(full / 'iter_8.pth'))['meta']['epoch'] == 0
    assert safe_load(str(full / 'epoch_1.pth'))['meta']['epoch'] == 1
    # The end-of-run file the resumed runs write: the second epoch's.
    expected = full / 'epoch_2.pth'

    # The first iteration, mid-epoch, the epoch's end (the last batch,
    # before and after its end hooks), the next epoch's start, and the
    # run's end; MAE also every other iteration (MoCo's resumes validate,
    # ~4 s each).
    resume_from = ['iter_1.pth', 'iter_7.pth', 'iter_8.pth', 'epoch_1.pth',
                   'iter_9.pth', 'iter_15.pth', 'iter_16.pth']
    if method == 'mae':
        resume_from += [f'iter_{i}.pth' for i in (2, 4, 6, 10, 12, 14)]
    for name in resume_from:
        resumed = tmp_path / f'resumed_{name[:-len(".pth")]}'
        assert train_here(at_the_end, resumed, '--resume',
                          str(full / name)) == 0, name
        assert_same_training_state(resumed / 'epoch_2.pth', expected)
        meta = safe_load(str(resumed / 'epoch_2.pth'))['meta']
        assert (meta['epoch'], meta['iter']) == (2, 16), name
        if method == 'mae':  # data order: the remaining iterations, once
            first = safe_load(str(full / name))['meta']['iter'] + 1
            trained = (resumed / 'samples.jsonl').exists()
            assert trained == (first <= 16), name
            got = samples(resumed) if trained else {}
            want = samples(full)
            assert sorted(got) == list(range(first, 17)), name
            assert all(got[it] == want[it] for it in got), name


def test_resume_with_more_epochs_after_the_last_batch(tmp_path):
    """The report's run: one epoch checkpointed after its last batch (meta
    epoch 0, iteration 8), then resumed with max_epochs raised to 3 in a
    fresh process; it must train epochs 2 and 3 (24 iterations), not stop
    one epoch short at iteration 16."""
    work_dir = tmp_path / 'w'
    one_epoch = config_with_hooks(
        tmp_path, "dict(type='RecordSamplesHook')",
        train_cfg="dict(_delete_=True, type='ResumableEpochBasedTrainLoop', "
        'max_epochs=1)',
        default_hooks='dict(checkpoint=dict(by_epoch=False, interval=8))')
    first = train(one_epoch, work_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert pointer(work_dir) == str(work_dir / 'iter_8.pth')
    three_epochs = config_with_hooks(
        tmp_path, "dict(type='RecordSamplesHook')",
        train_cfg="dict(_delete_=True, type='ResumableEpochBasedTrainLoop', "
        'max_epochs=3)',
        default_hooks='dict(checkpoint=dict(by_epoch=False, interval=8))')
    resumed = train(three_epochs, work_dir, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'starting the epoch afresh' not in resumed.stdout
    assert pointer(work_dir) == str(work_dir / 'iter_24.pth')
    assert sorted(samples(work_dir)) == list(range(1, 25))
    # The schedule is planned by iteration (16), so the extra epoch does not
    # change the first ones: the same as three epochs never interrupted.
    whole = tmp_path / 'whole'
    uninterrupted = train(three_epochs, whole)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    assert_same_training_state(work_dir / 'iter_24.pth',
                               whole / 'iter_24.pth')
    assert samples(work_dir) == samples(whole)
