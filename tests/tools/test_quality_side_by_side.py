"""The bookkeeping of benchmarks/quality_side_by_side.py and of the peers'
environments (benchmarks/peer_envs.py), without training anything."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'benchmarks'))

import peer_envs  # noqa: E402
import quality_side_by_side as quality  # noqa: E402


def test_peer_runs_in_this_interpreter_with_its_folder_first(monkeypatch):
    monkeypatch.setenv('PYTHONPATH', '/mine')
    env = peer_envs.peer_env('mmpretrain', root='/peers')
    assert env['PYTHONPATH'].split(os.pathsep) == [
        '/peers/mmpretrain-1.2.0', '/mine']


def test_a_failed_install_is_reported_not_ignored(monkeypatch, tmp_path):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        # The import check fails, and so does pip.
        return subprocess.CompletedProcess(cmd, 1, '', 'no index reachable')

    monkeypatch.setattr(peer_envs.subprocess, 'run', fake_run)
    with pytest.raises(peer_envs.PeerUnavailable, match='no index'):
        peer_envs.ensure_peer('open_clip', root=str(tmp_path), quiet=True)
    pip = calls[1]
    assert pip[:3] == [sys.executable, '-m', 'pip']
    assert '--no-deps' in pip and str(tmp_path / 'open_clip-3.3.0') in pip


def test_the_schedule_warms_up_then_follows_the_cosine_to_the_last_step():
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR
    recipe = dict(steps=20, batch_size=4, lr=0.1, warmup=4, eta_min=1e-3)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    kinds = dict(LinearLR=LinearLR, CosineAnnealingLR=CosineAnnealingLR)
    schedulers = [kinds[s.pop('type')](optimizer, **s)
                  for s in quality.lr_schedule(recipe)]
    lrs = []
    for _ in range(recipe['steps']):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    assert lrs[0] == pytest.approx(1e-4)          # 0.1 x start factor
    # mmengine's LinearLR reaches the base lr on its last step (3), and the
    # cosine starts from it at step 4.
    assert lrs[3] == lrs[4] == pytest.approx(0.1) and max(lrs) <= 0.1
    assert lrs[-1] == pytest.approx(1e-3 + 0.5 * (0.1 - 1e-3) * (
        1 + torch.cos(torch.tensor(torch.pi * 15 / 16)).item()))
    # A trial shorter than the warm-up keeps a cosine (warm-up <= steps/4).
    short = quality.lr_schedule(dict(recipe, steps=8))
    assert short[0]['end'] == 2 and short[1]['end'] == 8


def probe_of(linear, knn20):
    return dict(layers=[0, 1, 2], per_layer=[
        dict(linear=dict(test=a), knn={'20': b, '200': b - 1})
        for a, b in zip(linear, knn20)])


def test_summary_takes_the_best_layer_for_linear_and_the_last_for_knn():
    s = quality.summary(probe_of([30.0, 45.0, 40.0], [20.0, 25.0, 33.0]))
    assert (s['best_linear'], s['best_layer'], s['last_linear']) == (
        45.0, 1, 40.0)
    assert (s['last_knn20'], s['last_knn200']) == (33.0, 32.0)


def test_report_gives_each_run_and_the_mean_and_spread_per_toolbox():
    run = dict(steps=10, batch_size=4, wall_s=60.0,
               loss_curve=[[i, 1.0] for i in range(5)])
    results = dict(runs={'mae/pix/seed0': run, 'mae/pix/seed1': run},
                   probes={'mae/pix/seed0': probe_of([40, 50, 45], [30] * 3),
                           'mae/pix/seed1': probe_of([40, 46, 45], [34] * 3),
                           'mae/random-init/seed0': probe_of([20] * 3,
                                                             [10] * 3)})
    lines = quality.report(results, ['mae'])
    mean = next(line for line in lines if 'pix mean' in line)
    # best-layer linear 50 and 46: mean 48.0, spread 4.0; kNN-20 30 and 34.
    assert '48.0 (4.0)' in mean and '32.0 (4.0)' in mean
    assert any(line.startswith('| random-init | – | 0') for line in lines)


def test_a_missing_cifar_folder_is_one_line_and_exit_1(tmp_path, capsys):
    code = quality.main(['--cifar-root', str(tmp_path), '--json',
                         str(tmp_path / 'q.json')])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and 'get_cifar10.sh' in err[0]
    assert not (tmp_path / 'q.json').exists()
