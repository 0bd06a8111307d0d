"""What tools/train.py shows: a header, progress, where results went; the
environment, config and set-up notes in the log file only."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.logging import MMLogger

from pixpretrain.apis.console import hand_over, held_back_log

REPO = Path(__file__).resolve().parents[2]
TINY = 'tests/fixtures/tiny_mae.py'
DEMO = 'configs/mae/vit-tiny_demo.py'
PROGRESS = re.compile(r'\d\d/\d\d \d\d:\d\d:\d\d - mmengine - INFO - '
                      r'Iter\(train\) \[ *\d+/\d+\]')


def run_train(*args, progress='0'):
    env = dict(os.environ, PYTHONPATH=str(REPO),
               PIXPRETRAIN_PROGRESS=progress)
    result = subprocess.run(
        [sys.executable, 'tools/train.py', *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines(), result.stderr


def log_file(work_dir):
    (log, ) = Path(work_dir).glob('*/*.log')
    return log.read_text()


def test_console_shows_header_progress_and_results_only(tmp_path):
    lines, _ = run_train(TINY, '--work-dir', str(tmp_path), '--cfg-options',
                         'default_hooks.logger.interval=2')
    first_progress = next(i for i, line in enumerate(lines)
                          if PROGRESS.match(line))
    assert first_progress == 1, lines[:first_progress]
    header = lines[0]
    assert header.startswith(f'training {TINY} on cpu, ')
    assert f'work dir {tmp_path};' in header
    assert Path(header.split()[-1]).is_file()
    log = log_file(tmp_path)
    # 8 iterations logged every 2, then the checkpoint line.
    assert [bool(PROGRESS.match(line)) for line in lines[1:]] == \
        [True] * 4 + [False]
    assert lines[-1] == f'checkpoint: {tmp_path}/iter_8.pth'
    # What the console leaves out is in the log file.
    for kept in ('System environment:', 'Config:', 'Iter(train) [8/8]'):
        assert kept in log, kept
    assert not any('System environment' in line for line in lines)


def test_demo_console_is_short_and_names_picture(tmp_path):
    # The demo, shortened: the fitted schedule is a set-up note (log file
    # only), the GPU recipe's float32 fallback is no warning (no --amp).
    lines, _ = run_train(DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                         'train_cfg.max_iters=20',
                         'default_hooks.logger.interval=10')
    assert len(lines) == 1 + 2 + 2, lines
    assert PROGRESS.match(lines[1]) and PROGRESS.match(lines[2])
    assert lines[-1].startswith('picture: ') and Path(
        lines[-1].split(' ', 1)[1]).is_file()
    assert not any('WARNING' in line for line in lines), lines
    log = log_file(tmp_path)
    assert 'schedule follows the loop' in log
    assert 'training in float32 on the CPU' in log


def test_verbose_console_is_mmengines(tmp_path):
    lines, _ = run_train(TINY, '--work-dir', str(tmp_path), '--verbose',
                         '--cfg-options', 'train_cfg.max_iters=2')
    assert any('System environment:' in line for line in lines)
    assert any(line.startswith('Config:') or 'Config:' in line
               for line in lines)


def test_progress_bar_on_stderr(tmp_path):
    lines, stderr = run_train(TINY, '--work-dir', str(tmp_path),
                              progress='1')
    # tqdm's final state: all iterations, a rate, the last loss.
    final = stderr.replace('\r', '\n').splitlines()
    bars = [line for line in final if line.startswith('train: 100%')]
    assert bars and '8/8' in bars[-1] and 'loss=' in bars[-1], stderr
    assert not any(line.startswith('train:') for line in lines)


def test_held_back_notes_reach_the_log_once(tmp_path):
    log_path = tmp_path / 'run.log'
    with held_back_log() as notes:
        MMLogger.get_current_instance().warning('a set-up warning')
        MMLogger.get_current_instance().info('a set-up note')
    assert [record.getMessage() for record in notes] == [
        'a set-up warning', 'a set-up note']
    logger = MMLogger.get_instance('held_back_test', log_file=str(log_path))
    hand_over(notes, logger)
    for handler in logger.handlers:
        handler.flush()
    text = log_path.read_text()
    assert text.count('a set-up warning') == 1
    assert text.count('a set-up note') == 1


def test_held_back_warnings_print_when_set_up_fails(capsys):
    # A new instance is the current one; its console is pytest's capture.
    current = MMLogger.get_instance('held_back_failure_test')
    try:
        with held_back_log():
            current.info('a set-up note')
            current.warning('a set-up warning')
            raise ValueError('bad config')
    except ValueError:
        pass
    out = capsys.readouterr().out
    assert 'a set-up warning' in out and 'a set-up note' not in out
    current.info('after the block')
    assert 'after the block' in capsys.readouterr().out



@pytest.mark.distributed
def test_sharded_run_console_is_brief_too(tmp_path):
    # A FlexibleRunner logs through its strategy's logger; under FSDP2 that
    # console printed the environment and config (some 300 lines).
    env = dict(os.environ, PYTHONPATH=str(REPO), PIXPRETRAIN_PROGRESS='0',
               OMP_NUM_THREADS='1')
    result = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         '--standalone', 'tools/train.py', TINY, '--work-dir', str(tmp_path),
         '--launcher', 'pytorch', '--strategy', 'fsdp', '--cfg-options',
         'default_hooks.logger.interval=4'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [bool(PROGRESS.match(line)) for line in lines[1:]] == \
        [True] * 2 + [False], lines
    assert 'System environment:' in log_file(tmp_path)
