"""Shuffle-BN (He et al., MoCo, Sec. 3.3): the key encoder sees a batch
whose samples were shuffled across ranks, so its batch-norm statistics are
computed over samples other than the queries' and cannot leak which key is
the positive. On one device the shuffle is local, which only matters when
batch norm is split (:class:`SplitBatchNorm`)."""
from typing import Tuple

import torch
import torch.distributed as dist

from .distributed import concat_all_gather, rank, world_size


@torch.no_grad()
def batch_shuffle(images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """A random share of the global batch for this rank, and the way back.

    Every rank must pass the same batch size B.

    Args:
        images: (B, ...) this rank's samples.

    Returns:
        ``(shuffled, unshuffle_index)``: (B, ...) samples drawn from all
        ranks, and the (world × B,) index that :func:`batch_unshuffle` uses.
    """
    everything = concat_all_gather(images)  # (world × B, ...)
    order = torch.randperm(everything.shape[0], device=images.device)
    if world_size() > 1:
        dist.broadcast(order, src=0)  # one permutation for all ranks
    mine = order.view(world_size(), -1)[rank()]
    return everything[mine], torch.argsort(order)


@torch.no_grad()
def batch_unshuffle(outputs: torch.Tensor,
                    unshuffle_index: torch.Tensor) -> torch.Tensor:
    """Outputs of :func:`batch_shuffle`'d samples back to this rank's own
    samples, in their original order: (B, ...) -> (B, ...)."""
    everything = concat_all_gather(outputs)  # in shuffled order
    mine = unshuffle_index.view(world_size(), -1)[rank()]
    return everything[mine]
