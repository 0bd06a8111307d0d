"""ShardedGradScaler: AMP's loss scaling for an FSDP2 model with a replicated
0-d parameter (CLIP's logit scale), on two gloo CPU ranks. Unscaled
gradients equal a single process's float32 gradients on the whole batch,
and an inf in one rank's gradient shard makes both ranks skip the step and
halve the scale.
"""
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from pixpretrain.engine.strategies.grad_scaler import (
    ShardedGradScaler, use_sharded_grad_scaler)

pytestmark = pytest.mark.distributed  # see tests/conftest.py

INIT_SCALE = 2.0**10  # a power of two: unscaling is exact


class ScaledLinear(nn.Module):
    """A linear layer (sharded) times a learned 0-d scale (replicated)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 6)
        self.scale = nn.Parameter(torch.tensor(1.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.linear(x) * self.scale).pow(2).mean()


def batches():
    """Two steps' inputs per rank (all finite)."""
    # (step, rank, batch, features)
    return torch.randn(2, 2, 3, 4, generator=torch.Generator().manual_seed(1))


def worker(rank: int, store: str, results) -> None:
    import torch.distributed as dist

    from pixpretrain.engine import shard_model
    torch.set_num_threads(1)
    # A file rendezvous: no port to pick, none to collide.
    dist.init_process_group('gloo', init_method=f'file://{store}',
                            rank=rank, world_size=2)
    torch.manual_seed(0)
    model = shard_model(ScaledLinear())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = ShardedGradScaler('cpu', init_scale=INIT_SCALE)
    out = {}
    for step, inputs in enumerate(batches()):
        loss = model(inputs[rank])
        scaler.scale(loss).backward()
        if step == 1 and rank == 1:
            # An overflow in rank 1's shard alone (after the reduction):
            # rank 0 learns of it only through the all-reduced inf check.
            model.linear.weight.grad.to_local()[0, 0] = float('inf')
        scaler.unscale_(optimizer)
        out[f'grads{step}'] = {name: _full(p.grad) for name, p in
                               model.named_parameters()}
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        out[f'weights{step}'] = {name: _full(p) for name, p in
                                 model.named_parameters()}
        out[f'scale{step}'] = scaler.get_scale()
    results[rank] = out
    dist.destroy_process_group()


def _full(tensor: torch.Tensor) -> torch.Tensor:
    full = getattr(tensor, 'full_tensor', None)
    return (full() if full else tensor).detach().clone()


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    results = mp.Manager().dict()
    store = str(tmp_path_factory.mktemp('grad_scaler') / 'store')
    mp.start_processes(worker, args=(store, results), nprocs=2,
                       start_method='spawn')
    return dict(results)


def test_unscaled_gradients_equal_one_process_on_the_whole_batch(ranks):
    torch.manual_seed(0)
    reference = ScaledLinear()
    inputs = batches()[0]
    # FSDP2 and the scalar's hook average the ranks' gradients.
    loss = (reference(inputs[0]) + reference(inputs[1])) / 2
    loss.backward()
    for rank in (0, 1):
        grads = ranks[rank]['grads0']
        for name, param in reference.named_parameters():
            torch.testing.assert_close(grads[name], param.grad, rtol=1e-6,
                                       atol=1e-7)
        assert ranks[rank]['scale0'] == INIT_SCALE


def test_an_inf_on_one_rank_skips_the_step_on_both(ranks):
    for rank in (0, 1):
        out = ranks[rank]
        for name, weight in out['weights1'].items():
            assert torch.equal(weight, out['weights0'][name]), name
        assert out['scale1'] == INIT_SCALE / 2  # the default backoff
    # the replicated scale and the shards stay equal across the ranks
    for name in ranks[0]['weights1']:
        assert torch.equal(ranks[0]['weights1'][name],
                           ranks[1]['weights1'][name])


def test_amp_wrappers_get_the_scaler_with_their_settings():
    scaler = torch.amp.GradScaler('cpu', init_scale=256.0, growth_interval=7)
    amp = SimpleNamespace(loss_scaler=scaler)
    fp32 = SimpleNamespace()
    disabled = SimpleNamespace(
        loss_scaler=torch.amp.GradScaler('cpu', enabled=False))
    use_sharded_grad_scaler(dict(amp=amp, fp32=fp32, disabled=disabled))
    assert isinstance(amp.loss_scaler, ShardedGradScaler)
    assert amp.loss_scaler.get_scale() == 256.0
    assert amp.loss_scaler.get_growth_interval() == 7
    assert not hasattr(fp32, 'loss_scaler')
    assert type(disabled.loss_scaler) is torch.amp.GradScaler
    single = SimpleNamespace(loss_scaler=torch.amp.GradScaler('cpu'))
    use_sharded_grad_scaler(single)
    assert isinstance(single.loss_scaler, ShardedGradScaler)
