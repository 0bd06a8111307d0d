"""bf16 autocast on the CPU: the wrapper, when --amp picks it, and that it
keeps the loss of fp32 training within bf16's rounding."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

from pixpretrain.apis import prepare_train_config
from pixpretrain.apis import train as train_api
from pixpretrain.engine.optimizers import AutocastOptimWrapper
from pixpretrain.models import MAE
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


def _tiny_mae() -> MAE:
    torch.manual_seed(0)
    return MAE(
        backbone=dict(type='VisionTransformer', arch=dict(
            embed_dims=64, num_layers=2, num_heads=4, mlp_ratio=2.0),
            img_size=32, patch_size=8),
        neck=dict(type='MAEDecoder', num_patches=16, patch_size=8,
                  encoder_dims=64, decoder_dims=32, decoder_depth=1,
                  decoder_num_heads=4),
        head=dict(type='MAEHead', patch_size=8, norm_pix=True))


def _curve(wrapper_type: str, steps: int = 8):
    model = _tiny_mae()
    wrapper = build_optim_wrapper(model, dict(
        type=wrapper_type, optimizer=dict(type='AdamW', lr=2e-3)))
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(2))
    losses = []
    for step in range(steps):
        torch.manual_seed(step)  # the same masks in both runs
        losses.append(model.train_step(dict(inputs=images),
                                       wrapper)['loss'].item())
    return torch.tensor(losses)


def test_bf16_autocast_keeps_the_mae_loss_curve():
    fp32 = _curve('OptimWrapper')
    bf16 = _curve('pixpretrain.AutocastOptimWrapper')
    assert fp32[-1] < 0.9 * fp32[0]  # it trains
    # bf16 keeps 8 bits of mantissa (relative rounding 2**-9 = 0.2 %); over
    # 8 AdamW steps the losses stay within 2 % of fp32's.
    torch.testing.assert_close(bf16, fp32, rtol=2e-2, atol=0)
    assert not torch.equal(bf16, fp32)  # it did run in bf16
