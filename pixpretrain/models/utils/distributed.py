"""Gathering a batch's features from every rank (contrastive losses).

Two gathers, one per use:

- :func:`gather_with_grad` for losses over the global batch whose gradient
  must reach every rank's encoder (CLIP): the backward pass sums the
  gradients that all ranks computed for this rank's rows and returns them
  here.
- :func:`concat_all_gather` for features that only serve as constants
  (MoCo's keys entering a queue): no autograd graph at all.

Both return the input unchanged when torch.distributed is not initialised
or the world has one process, so single-device code needs no branch. Every
rank must pass a tensor of the same shape (mmengine's ``DefaultSampler``
pads the epoch so that each rank gets the same number of batches of the
same size).
"""
from typing import Tuple

import torch
import torch.distributed as dist


def rank_and_world_size() -> Tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) without."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """(B, ...) on each of W ranks -> (W * B, ...), rank 0's rows first.

    No gradient flows through the result.
    """
    _, world_size = rank_and_world_size()
    if world_size == 1:
        return tensor.detach()
    parts = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather forward; backward sums the gradients over ranks and keeps
    this rank's slice (a reduce-scatter, written with all_reduce because
    gloo has no reduce_scatter)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        rank, world_size = rank_and_world_size()
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        grad = grad_output.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.rows
        return grad[start:start + ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """(B, ...) on each of W ranks -> (W * B, ...), rank 0's rows first.

    The gradient reaching this rank's rows is the sum of what every rank's
    loss contributed to them. With each rank's loss computed on its own rows
    against the gathered batch, and DDP averaging parameter gradients, the
    update equals that of the mean loss over the global batch on one device.
    """
    _, world_size = rank_and_world_size()
    if world_size == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)
