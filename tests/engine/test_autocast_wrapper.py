"""bf16 autocast on the CPU: the wrapper and when --amp picks it (that it
keeps the loss: tests/models/test_fast_paths.py)."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

from pixpretrain.apis import prepare_train_config
from pixpretrain.apis import train as train_api
from pixpretrain.engine.optimizers import AutocastOptimWrapper
from pixpretrain.utils.errors import ConfigError


def _wrapper(model, **kwargs):
    return build_optim_wrapper(model, dict(
        type='pixpretrain.AutocastOptimWrapper',
        optimizer=dict(type='SGD', lr=0.1), **kwargs))


def test_forward_runs_in_bf16_and_parameters_stay_fp32():
    model = nn.Linear(4, 3)
    wrapper = _wrapper(model)
    assert isinstance(wrapper, AutocastOptimWrapper)
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    assert model(torch.randn(2, 4)).dtype == torch.float32  # context left
    wrapper.update_params(out.float().pow(2).sum())
    assert model.weight.dtype == torch.float32
    assert model.weight.grad is None  # update_params zeroed it


def test_float16_is_refused():
    with pytest.raises(ConfigError, match='bfloat16'):
        _wrapper(nn.Linear(2, 2), dtype='float16')


def _mae_config(wrapper_type='AmpOptimWrapper'):
    return Config(dict(
        optim_wrapper=dict(type=wrapper_type, dtype='bfloat16',
                           loss_scale='dynamic',
                           optimizer=dict(type='AdamW', lr=1e-3)),
        train_dataloader=dict(pin_memory=True)))


@pytest.mark.parametrize('amp, native, expected', [
    (True, True, 'AutocastOptimWrapper'),
    (True, False, 'OptimWrapper'),   # emulated bf16 is slower than fp32
    (False, True, 'OptimWrapper'),   # opt-in only
])
def test_amp_on_a_cpu_picks_bf16_autocast_only_when_asked_and_native(
        monkeypatch, tmp_path, amp, native, expected):
    monkeypatch.setattr(train_api.torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(train_api, 'cpu_has_native_bf16', lambda: native)
    cfg = prepare_train_config(_mae_config(), 'x.py', str(tmp_path), amp=amp)
    assert cfg.optim_wrapper.type == expected
    assert 'loss_scale' not in cfg.optim_wrapper
    assert 'dtype' not in cfg.optim_wrapper
    assert cfg.train_dataloader.pin_memory is False
