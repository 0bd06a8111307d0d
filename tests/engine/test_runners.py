"""pixpretrain's runners leave out schedule phases that span no step, or one
step before another phase: mmengine would stop with a traceback, or keep
a one-step warm-up's first factor for the whole run."""
import json
import math
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper

from pixpretrain.engine.runners import whole_step_phases

REPO = Path(__file__).resolve().parents[2]
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def warmup(begin, end, **kwargs):
    return dict(type='LinearLR', start_factor=1e-4, begin=begin, end=end,
                **kwargs)


def cosine(begin, end, **kwargs):
    return dict(type='CosineAnnealingLR', T_max=end - begin, eta_min=0.0,
                begin=begin, end=end, **kwargs)


def mmengine_lrs(phases, steps):
    """The lr at each of ``steps`` iterations under mmengine's schedulers."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = OptimWrapper(torch.optim.SGD([parameter], lr=1.0))
    kinds = dict(LinearLR=LinearLR, CosineAnnealingLR=CosineAnnealingLR)
    built = [kinds[p['type']](optimizer, by_epoch=False, **{
        k: v for k, v in p.items() if k not in ('type', 'by_epoch')})
        for p in phases]
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()  # as a run does, before the schedulers
        for scheduler in built:
            scheduler.step()
    return lrs


def test_converted_warmup_of_no_iteration_is_left_out():
    # vit-b_800e's 40 of 800 epochs, scaled to a 1-epoch smoke test
    phases = [warmup(0, 0.05, by_epoch=True, convert_to_iter_based=True),
              cosine(0.05, 1, by_epoch=True, convert_to_iter_based=True)]
    kept, notes = whole_step_phases(phases, epoch_length=4)
    assert kept == phases[1:]
    assert notes == ['param_scheduler[0] (LinearLR, 0-0.05 epochs, 4 '
                     'iterations an epoch) spans no whole iteration of this '
                     'run, so it is left out (mmengine cannot run it)']
    # mmengine's own conversion: int(0.05 * 4) == 0 == begin
    with pytest.raises(ValueError, match='end should be larger than begin'):
        mmengine_lrs([warmup(0, int(0.05 * 4))], 1)
    # at 40 iterations an epoch it spans two and stays
    assert whole_step_phases(phases, epoch_length=40) == (phases, [])


def test_one_step_warmup_is_left_out_and_the_cosine_runs_whole():
    phases = [warmup(0, 1, by_epoch=False), cosine(1, 9, by_epoch=False)]
    # mmengine keeps a one-step warm-up's start factor: lr 1e-4 throughout
    assert max(mmengine_lrs(phases, 8)) == pytest.approx(1e-4)
    kept, notes = whole_step_phases(phases, epoch_length=None)
    assert kept == phases[1:] and 'spans one iteration before' in notes[0]
    lrs = mmengine_lrs(kept, 9)
    assert lrs[1:] == pytest.approx(
        [(1 + math.cos(math.pi * t / 8)) / 2 for t in range(8)])


def test_what_mmengine_runs_as_meant_is_kept():
    phases = [warmup(0, 2, by_epoch=False), cosine(2, 9, by_epoch=False),
              dict(type='ConstantLR', factor=0.5, by_epoch=True)]  # no end
    assert whole_step_phases(phases, epoch_length=None) == (phases, [])
    # a one-step phase that is the last one decays nothing it must undo
    assert whole_step_phases([cosine(0, 1, by_epoch=False)], 5)[1] == []
    # epochs in epochs: the phase spans whole epochs
    per_epoch = [warmup(0, 1, by_epoch=True), cosine(1, 3, by_epoch=True)]
    assert 'spans one epoch' in whole_step_phases(per_epoch, 4)[1][0]
    # an iteration warm-up before a cosine stepped per epoch: compared in
    # iterations once the epoch length is known
    mixed = [warmup(0, 1, by_epoch=False), cosine(0, 10, by_epoch=True)]
    assert 'spans one iteration before' in whole_step_phases(mixed, 8)[1][0]
    assert whole_step_phases(mixed, None) == (mixed, [])
    # no loader length: converted phases cannot be judged and stay
    converted = [warmup(0, 0.05, convert_to_iter_based=True), cosine(0, 1)]
    assert whole_step_phases(converted, None) == (converted, [])


def test_a_smoke_test_of_a_long_epoch_schedule_trains(tmp_path, capsys):
    """tools/train.py on the MAE 800-epoch schedule's shape cut to one
    epoch of 8 iterations (the warm-up scales to 0.4 of one)."""
    config = tmp_path / 'smoke.py'
    config.write_text(
        f"_base_ = [{str(REPO / 'tests/fixtures/tiny_mae.py')!r}]\n"
        "train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', "
        "max_epochs=800)\n"
        "param_scheduler = [\n"
        "    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, "
        "begin=0, end=40, convert_to_iter_based=True),\n"
        "    dict(type='CosineAnnealingLR', T_max=760, eta_min=0.0, "
        "by_epoch=True, begin=40, end=800, convert_to_iter_based=True)]\n")
    work_dir = tmp_path / 'work'
    assert train_tool.main([str(config), '--work-dir', str(work_dir),
                            '--cfg-options', 'train_cfg.max_epochs=1']) == 0
    console = ''.join(capsys.readouterr())  # mmengine's console is stdout
    assert 'WARNING - param_scheduler[0] (LinearLR, 0-0.05 epochs, 8 ' \
        'iterations an epoch) spans no whole iteration' in console
    (log, ) = work_dir.glob('*/vis_data/scalars.json')
    lrs = [json.loads(line)['lr'] for line in log.read_text().splitlines()]
    # the cosine from the base lr, T_max 0.95 epochs (760 / 800) as
    # mmengine converts it: 7.6 iterations
    base = lrs[0]
    assert lrs == pytest.approx(
        [base * (1 + math.cos(math.pi * t / 7.6)) / 2 for t in range(8)],
        rel=1e-4)
