"""The schedule follows the loop's length when --cfg-options changes it."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR

from pixpretrain.apis.schedule_length import fit_schedule_to_loop
from pixpretrain.utils import ConfigError


def mae_cifar(**train_cfg):
    """configs/mae/vit-t-p4_cifar10.py's schedule: 10 warm-up epochs, a
    cosine over the remaining 190 of 200."""
    return Config(dict(
        train_cfg=dict(type='EpochBasedTrainLoop', **train_cfg),
        param_scheduler=[
            dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
                 end=10, convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', T_max=190, eta_min=1e-5,
                 by_epoch=True, begin=10, end=200,
                 convert_to_iter_based=True)]))


def lr_at_each_epoch(phases, epochs, lr=1e-3):
    """The lr mmengine's schedulers give, stepped once per epoch."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    kinds = dict(LinearLR=LinearLR, CosineAnnealingLR=CosineAnnealingLR)
    schedulers = [kinds[p['type']](optimizer, **{
        k: v for k, v in p.items() if k not in ('type', 'by_epoch',
                                                'convert_to_iter_based')})
        for p in phases]
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return lrs


def test_a_shortened_loop_gets_the_whole_cosine():
    cfg = mae_cifar(max_epochs=30)
    notes = fit_schedule_to_loop(cfg)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 10)       # kept
    assert (cosine.begin, cosine.end, cosine.T_max) == (10, 30, 20)
    assert len(notes) == 1 and 'ends at 30 instead of 200' in notes[0]
    lrs = lr_at_each_epoch(cfg.param_scheduler, 30)
    # The last epoch is one step before the cosine's end: nearly eta_min,
    # where the unadapted schedule would still be at 97.6 % of the peak.
    expected = 1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * 19 / 20)) / 2
    assert lrs[-1] == pytest.approx(expected)
    assert lr_at_each_epoch(mae_cifar().param_scheduler, 30)[-1] > 0.97e-3


def test_the_config_can_keep_its_plan_for_a_run_resumed_later():
    cfg = mae_cifar(max_epochs=30)
    cfg.schedule_follows_loop = False
    assert fit_schedule_to_loop(cfg) == []
    assert cfg.param_scheduler[1].end == 200


def test_a_lengthened_loop_stretches_the_cosine_too():
    cfg = mae_cifar(max_epochs=400)
    fit_schedule_to_loop(cfg)
    assert (cfg.param_scheduler[1].end, cfg.param_scheduler[1].T_max) == (
        400, 390)


def test_a_schedule_that_already_fits_is_left_alone():
    cfg = mae_cifar(max_epochs=200)
    before = cfg.to_dict()
    assert fit_schedule_to_loop(cfg) == [] and cfg.to_dict() == before


def test_a_loop_shorter_than_the_warmup_scales_the_whole_schedule():
    cfg = mae_cifar(max_epochs=5)
    notes = fit_schedule_to_loop(cfg)
    warmup, cosine = cfg.param_scheduler
    # 5/200 of each phase; converted to iterations, so fractions are kept.
    assert (warmup.begin, warmup.end) == (0, 0.25)
    assert (cosine.begin, cosine.end, cosine.T_max) == (0.25, 5, 4.75)
    assert 'scaled by 5/200' in notes[-1]


def test_whole_iterations_stay_whole_and_every_phase_runs():
    cfg = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=3),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=False, begin=0, end=50),
            dict(type='CosineAnnealingLR', by_epoch=False, T_max=550,
                 begin=50, end=600)]))
    fit_schedule_to_loop(cfg)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 1)
    assert (cosine.begin, cosine.end, cosine.T_max) == (0, 3, 3)


def test_a_phase_beginning_after_the_loop_is_refused_in_one_line():
    cfg = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=10),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=False, begin=0, end=40),
            dict(type='ConstantLR', by_epoch=False, begin=40, end=50),
            dict(type='CosineAnnealingLR', by_epoch=False, T_max=50,
                 begin=50, end=100)]))
    # 10 < 40 and 50: the warm-ups do not fit, so everything scales.
    fit_schedule_to_loop(cfg)
    assert [p.end for p in cfg.param_scheduler] == [4, 5, 10]
    late = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=60),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=False, begin=0, end=40),
            dict(type='CosineAnnealingLR', by_epoch=False, T_max=10,
                 begin=90, end=100)]))
    with pytest.raises(ConfigError, match=r'param_scheduler\[1\].*begins at '
                       r'90.*max_iters=60'):
        fit_schedule_to_loop(late)


def test_iteration_phases_follow_max_iters_and_other_units_are_left():
    cfg = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=100),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=False, begin=0, end=40),
            dict(type='CosineAnnealingLR', by_epoch=False, T_max=2960,
                 begin=40, end=3000),
            dict(type='ConstantLR', by_epoch=True, begin=0, end=7)]))
    fit_schedule_to_loop(cfg)
    assert [(p.begin, p.end) for p in cfg.param_scheduler] == [
        (0, 40), (40, 100), (0, 7)]
    assert cfg.param_scheduler[1].T_max == 60
