"""All-gathers for losses that need the global batch (MoCo keys, CLIP
features). Both are identities when torch.distributed is not initialised,
so the same model code runs on one device. And what model code needs of
FSDP2 sharding: the EMA of a sharded encoder, and whole weights for code
that reaches into a block outside its forward."""
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional

import torch
import torch.distributed as dist
from torch.distributed.fsdp import FSDPModule
from torch.distributed.tensor import DTensor, distribute_tensor


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP-style wrapper (mmengine's
    ``is_model_wrapper``), or ``model`` itself."""
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def world_size() -> int:
    """Number of processes, 1 outside a distributed run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    """This process's rank, 0 outside a distributed run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, without gradient.

    Every rank must pass the same shape. Shape: (B, ...) → (world × B, ...),
    ordered by rank.
    """
    if world_size() == 1:
        return tensor.detach()
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


class _GatherWithGrad(torch.autograd.Function):

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        ctx.batch = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # Every rank's loss depends on every rank's features: sum the
        # gradient from all ranks, keep the slice of our own features.
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = rank() * ctx.batch
        return grad[start:start + ctx.batch]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, differentiably.

    The backward pass sums each rank's gradient into the local slice, so
    when every rank computes the same loss on the gathered batch and
    DistributedDataParallel averages parameter gradients, the update equals
    the single-process one on the concatenated batch.
    Shape: (B, ...) → (world × B, ...), ordered by rank.
    """
    if world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


@torch.no_grad()
def ema_update_(target: torch.nn.Module,
                sources: Iterable[torch.Tensor], momentum: float) -> None:
    """``t <- m t + (1 - m) s`` for every parameter ``t`` of ``target``,
    paired in order with ``sources`` (MoCo's momentum encoder).

    Under FSDP2 sharding (``torch.distributed.fsdp.fully_shard``) it updates
    the shards each rank keeps, the only copy of a weight that outlives the
    step: ``target``'s sharded modules are resharded first (their gathered
    weights are freed, and writes to them lost, when FSDP2 reshards), and a
    source held whole (its unit gathered for the step) is cut to the same
    shard locally, without communication.

    Args:
        target: Updated in place; its sharded parts must be FSDP units of
            their own (the root's weights stay gathered for the whole step).
        sources: One tensor per parameter of ``target``, same shapes.
        momentum: m, the weight of ``target``'s old value.
    """
    for module in target.modules():
        if isinstance(module, FSDPModule):
            module.reshard()
    for weight, source in zip(target.parameters(), sources):
        source = source.detach()
        if isinstance(weight, DTensor) and not isinstance(source, DTensor):
            source = distribute_tensor(source, weight.device_mesh,
                                       weight.placements, src_data_rank=None)
        weight.mul_(momentum).add_(source, alpha=1 - momentum)


@contextmanager
def gathered_units(*modules: Optional[torch.nn.Module]) -> Iterator[bool]:
    """Hold the whole weights of every FSDP2 unit inside ``modules`` for
    the duration, then free them: code that runs a sharded block's layers
    outside the block's forward (the key/value cache of caption decoding)
    needs them, and FSDP2 gathers a unit's weights only around its forward.
    Gathered once up front, so a loop whose length differs between ranks
    makes no collective call; nothing happens where nothing is sharded.

    Args:
        modules: Parts of the model (None skipped); never the root unit,
            whose weights the caller's forward holds.

    Yields:
        Whether any unit was gathered (the model is sharded).
    """
    units = [unit for module in modules if module is not None
             for unit in module.modules() if isinstance(unit, FSDPModule)]
    gathered = []
    try:
        for unit in units:
            unit.unshard()
            gathered.append(unit)
        yield bool(units)
    finally:
        for unit in gathered:
            unit.reshard()
