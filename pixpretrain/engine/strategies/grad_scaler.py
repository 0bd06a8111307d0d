"""AMP's loss scaler for a model sharded by FSDP2 that also holds plain,
replicated parameters (CLIP's 0-d logit scale).

torch's ``GradScaler`` unscales each device's gradients with one fused call,
and DTensor answers that call for sharded gradients by all-reducing the
inf check over the ranks, reading the placements of the list's first
gradient. A list mixing sharded gradients and plain ones breaks there
(``'Tensor' object has no attribute 'placements'``): mmengine's
``AmpOptimWrapper`` could not train CLIP under FSDP2 on a GPU. This scaler
unscales the two kinds apart and adds their inf checks. Every rank reaches
the same verdict: the sharded check is all-reduced by DTensor, and the plain
gradients are equal on every rank (averaged by
:func:`~pixpretrain.engine.strategies.sharding.replicate_scalars`'s hooks).
"""
from types import SimpleNamespace
from typing import Dict

import torch
from torch.distributed.tensor import DTensor


class ShardedGradScaler(torch.amp.GradScaler):
    """``torch.amp.GradScaler`` whose unscaling takes DTensor and plain
    gradients in separate calls. Takes ``GradScaler``'s arguments."""

    def _unscale_grads_(self, optimizer: torch.optim.Optimizer,
                        inv_scale: torch.Tensor, found_inf: torch.Tensor,
                        allow_fp16: bool) -> Dict[torch.device, torch.Tensor]:
        params = [p for group in optimizer.param_groups
                  for p in group['params']]
        sharded = [p for p in params if isinstance(p, DTensor)]
        plain = [p for p in params if not isinstance(p, DTensor)]
        found: Dict[torch.device, torch.Tensor] = {}
        for part in (sharded, plain):
            if not part:
                continue
            # The parent reads only ``param_groups[i]['params']``.
            view = SimpleNamespace(param_groups=[dict(params=part)])
            for device, flag in super()._unscale_grads_(
                    view, inv_scale, found_inf, allow_fp16).items():
                found[device] = found[device] + flag if device in found \
                    else flag
        return found


def use_sharded_grad_scaler(optim_wrapper) -> None:
    """Give every AMP wrapper of ``optim_wrapper`` (an ``OptimWrapper`` or
    an ``OptimWrapperDict``) a :class:`ShardedGradScaler` with its loss
    scaler's settings. Called when the wrapper is built: a resumed run
    then loads the scaler's state into the new one."""
    wrappers = (optim_wrapper.values() if hasattr(optim_wrapper, 'values')
                else [optim_wrapper])
    for wrapper in wrappers:
        scaler = getattr(wrapper, 'loss_scaler', None)
        if type(scaler) not in (torch.amp.GradScaler,
                                torch.cuda.amp.GradScaler) or \
                not scaler.is_enabled():
            continue  # no scaler, a disabled one, or one of the user's
        wrapper.loss_scaler = ShardedGradScaler(
            scaler._device, init_scale=scaler._init_scale,
            growth_factor=scaler._growth_factor,
            backoff_factor=scaler._backoff_factor,
            growth_interval=scaler._growth_interval,
            enabled=True)
