"""SkipNonFinite*OptimWrapper: a non-finite update leaves weights, optimizer
state and the AMP loss scaler untouched; finite ones match plain torch."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from torch import nn

from pixpretrain.apis import prepare_train_config
from pixpretrain.engine import (NonFiniteLossHook,
                                SkipNonFiniteAmpOptimWrapper,
                                SkipNonFiniteOptimWrapper)
from pixpretrain.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
NAN = float('nan')


def model_and_input():
    torch.manual_seed(0)
    return nn.Linear(3, 2), torch.randn(4, 3)


def loss_of(model, x, fault=None):
    """A finite loss; fault='loss' makes it NaN, 'grad' keeps it finite but
    gives NaN gradients (d sqrt(u)/du at u = 0 is inf, times 0)."""
    loss = model(x).pow(2).mean()
    if fault == 'loss':
        return loss * NAN
    if fault == 'grad':
        return loss + (loss * 0).sqrt()
    return loss


def snapshot(model, optimizer):
    return copy.deepcopy(model.state_dict()), copy.deepcopy(
        optimizer.state_dict())


def assert_same(first, second):
    (w1, o1), (w2, o2) = first, second
    for key in w1:
        assert torch.equal(w1[key], w2[key]), key
    assert o1['state'].keys() == o2['state'].keys()
    for index, state in o1['state'].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value),
                               torch.as_tensor(o2['state'][index][key]))


@pytest.mark.parametrize('fault', ['loss', 'grad'])
def test_a_non_finite_update_is_skipped_and_the_next_applied(fault):
    model, x = model_and_input()
    reference, _ = model_and_input()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    ref_optimizer = torch.optim.AdamW(reference.parameters(), lr=0.1)
    wrapper = SkipNonFiniteOptimWrapper(optimizer=optimizer)

    wrapper.update_params(loss_of(model, x))
    ref_optimizer.zero_grad()
    loss_of(reference, x).backward()
    ref_optimizer.step()
    before = snapshot(model, optimizer)

    wrapper.update_params(loss_of(model, x, fault))
    assert_same(before, snapshot(model, optimizer))
    assert all(p.grad is None or not p.grad.any()
               for p in model.parameters())  # the NaN gradients are gone
    assert wrapper.skipped_updates == wrapper.consecutive_skips == 1
    assert wrapper.last_skip_reason == {'loss': 'loss',
                                        'grad': 'gradients'}[fault]

    # The next finite update is the one plain AdamW makes as its second.
    wrapper.update_params(loss_of(model, x))
    ref_optimizer.zero_grad()
    loss_of(reference, x).backward()
    ref_optimizer.step()
    assert wrapper.consecutive_skips == 0 and wrapper.skipped_updates == 1
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


def test_a_non_finite_micro_batch_drops_its_whole_accumulation_window():
    model, x = model_and_input()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    wrapper = SkipNonFiniteOptimWrapper(optimizer=optimizer,
                                        accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 6)
    start = snapshot(model, optimizer)
    wrapper.update_params(loss_of(model, x, 'loss'))
    assert wrapper.skipped_updates == 0  # no update due yet
    wrapper.update_params(loss_of(model, x))  # finite, but the window is not
    assert_same(start, snapshot(model, optimizer))
    assert wrapper.skipped_updates == 1
    # The next window starts clean: finite micro-batches update.
    wrapper.update_params(loss_of(model, x))
    wrapper.update_params(loss_of(model, x))
    assert wrapper.consecutive_skips == 0
    assert not torch.equal(model.weight, start[0]['weight'])


@pytest.fixture
def amp_wrapper(monkeypatch):
    """SkipNonFiniteAmpOptimWrapper on the CPU with torch's CPU GradScaler
    (mmengine builds the wrapper on accelerators only)."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)

    def build(**scaler_args):
        model, x = model_and_input()
        wrapper = SkipNonFiniteAmpOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        wrapper.loss_scaler = torch.amp.GradScaler('cpu', **scaler_args)
        return model, x, wrapper

    return build


def test_amp_overflow_stays_the_scalers_business(amp_wrapper):
    model, x, wrapper = amp_wrapper(init_scale=1024.0, growth_interval=100)
    start = snapshot(model, wrapper.optimizer)
    # A finite loss with non-finite (scaled) gradients: the scaler skips
    # the step and halves its scale; not counted as a skip here.
    wrapper.update_params(loss_of(model, x, 'grad'))
    assert_same(start, snapshot(model, wrapper.optimizer))
    assert wrapper.loss_scaler.get_scale() == 512.0
    assert wrapper.skipped_updates == 0
    # A non-finite loss is skipped before the scaler: its scale stays.
    wrapper.update_params(loss_of(model, x, 'loss'))
    assert_same(start, snapshot(model, wrapper.optimizer))
    assert wrapper.loss_scaler.get_scale() == 512.0
    assert wrapper.skipped_updates == wrapper.consecutive_skips == 1
    # A finite one goes through the scaler: SGD's step on the true grads.
    expected = model.weight.detach().clone()
    loss = loss_of(model, x)
    (grad, ) = torch.autograd.grad(loss, [model.weight], retain_graph=True)
    wrapper.update_params(loss)
    torch.testing.assert_close(model.weight, expected - 0.1 * grad)
    assert wrapper.consecutive_skips == 0


def test_amp_with_the_scaler_disabled_checks_gradients_itself(amp_wrapper):
    model, x, wrapper = amp_wrapper(enabled=False)
    start = snapshot(model, wrapper.optimizer)
    wrapper.update_params(loss_of(model, x, 'grad'))
    assert_same(start, snapshot(model, wrapper.optimizer))
    assert wrapper.last_skip_reason == 'gradients'


@pytest.mark.parametrize('limit', [0, -1, 2.5, True])
def test_the_hook_rejects_a_limit_that_is_not_a_positive_integer(limit):
    with pytest.raises(ConfigError, match=f'max_consecutive = {limit}: '):
        NonFiniteLossHook(max_consecutive=limit)


def shipped_configs():
    return sorted(p for p in (REPO / 'configs').rglob('*.py')
                  if '_base_' not in p.parts)


@pytest.mark.parametrize('path', shipped_configs(),
                         ids=lambda p: str(p.relative_to(REPO / 'configs')))
def test_every_shipped_config_skips_and_reports_non_finite_steps(path):
    cfg = Config.fromfile(str(path))
    if 'optim_wrapper' not in cfg:
        pytest.skip('no training')
    assert cfg.optim_wrapper.type in ('SkipNonFiniteOptimWrapper',
                                      'SkipNonFiniteAmpOptimWrapper')
    assert cfg.default_hooks.nonfinite.type == 'NonFiniteLossHook'
    assert cfg.default_hooks.nonfinite.max_consecutive >= 1


@pytest.mark.parametrize('config_type, amp, fp32, autocast', [
    ('SkipNonFiniteAmpOptimWrapper', False, 'SkipNonFiniteOptimWrapper',
     None),
    ('SkipNonFiniteOptimWrapper', True, 'SkipNonFiniteOptimWrapper',
     'SkipNonFiniteAutocastOptimWrapper'),
    ('AmpOptimWrapper', False, 'OptimWrapper', None),
    ('OptimWrapper', True, 'OptimWrapper', 'AutocastOptimWrapper'),
])
def test_cpu_training_keeps_the_skipping_when_it_drops_amp(
        tmp_path, config_type, amp, fp32, autocast):
    # On a CPU --amp picks the AMP counterpart, which becomes bf16 autocast
    # of the same kind where the CPU has native bf16, else falls back to
    # the fp32 wrapper of the same kind.
    from pixpretrain.engine.optimizers import cpu_has_native_bf16
    assert not torch.cuda.is_available()
    config = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
    cfg = Config.fromfile(config)
    cfg.optim_wrapper.type = config_type
    cfg = prepare_train_config(cfg, config, str(tmp_path), amp=amp)
    if amp and cpu_has_native_bf16():
        assert cfg.optim_wrapper.type == autocast  # bf16 by default
    else:
        assert cfg.optim_wrapper.type == fp32
        assert 'dtype' not in cfg.optim_wrapper


def test_cpu_autocast_wrapper_skips_a_nan_loss():
    from pixpretrain.engine.optimizers import \
        SkipNonFiniteAutocastOptimWrapper
    model = torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    wrapper = SkipNonFiniteAutocastOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        loss = model(torch.ones(1, 3)).sum() * float('nan')
    wrapper.update_params(loss)
    assert wrapper.skipped_updates == 1
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
