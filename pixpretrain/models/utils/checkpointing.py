"""Activation checkpointing: a block keeps only its input for the backward
pass and recomputes what lies inside it there (``torch.utils.checkpoint``,
non-reentrant), trading one more forward of the block for its activations.

The backbones take ``with_cp=True`` (the OpenMMLab name) to checkpoint each
transformer block or each residual block; ``TimmBackbone`` checkpoints the
blocks of a timm model with :func:`checkpoint_forward`.
"""
import contextlib
from typing import Any, Callable, Dict, Iterator, List

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextlib.contextmanager
def running_stats_kept(module: nn.Module) -> Iterator[None]:
    """Batch norms inside ``module`` end with the running statistics they
    had before (they normalise with the batch's statistics as usual).

    The backward pass's recomputation runs a block's batch norms a second
    time; without this they would count every batch twice, and the running
    statistics would differ from a run without checkpointing. (Turning
    ``track_running_stats`` off instead would change what batch norm saves
    for backward, which checkpointing refuses.)
    """
    buffers: List[torch.Tensor] = [
        buffer for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
        for buffer in m.buffers()
    ]
    kept = [buffer.clone() for buffer in buffers]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(buffers, kept):
                buffer.copy_(value)


def checkpointed(function: Callable[..., torch.Tensor], *args: Any,
                 module: nn.Module = None, **kwargs: Any) -> torch.Tensor:
    """``function(*args, **kwargs)``, its activations recomputed in backward.

    Runs it plainly when no gradient is being recorded (evaluation, feature
    extraction), where there is nothing to save.

    Args:
        function: The block's computation.
        *args, **kwargs: Its inputs.
        module: The module whose batch norms the recomputation must not
            update (see :func:`running_stats_kept`); ``None`` when
            ``function`` holds none.
    """
    if not torch.is_grad_enabled():
        return function(*args, **kwargs)

    def contexts():
        recompute = (running_stats_kept(module) if module is not None
                     else contextlib.nullcontext())
        return contextlib.nullcontext(), recompute

    return checkpoint(function, *args, use_reentrant=False,
                      context_fn=contexts, **kwargs)


def checkpointed_sequence(blocks: nn.Sequential) -> Callable[[torch.Tensor],
                                                             torch.Tensor]:
    """``blocks`` as one callable that checkpoints each block in turn (a
    ResNet stage with ``with_cp``)."""

    def run(x: torch.Tensor) -> torch.Tensor:
        for block in blocks:
            x = checkpointed(block, x, module=block)
        return x

    return run


class CheckpointedForward:
    """Mixin of :func:`checkpoint_forward`'s classes: the module's own
    forward, run through :func:`checkpointed`."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return checkpointed(super().forward, *args, module=self, **kwargs)


_CHECKPOINTED_CLASSES: Dict[type, type] = {}


def checkpoint_forward(module: nn.Module) -> nn.Module:
    """Make ``module`` checkpoint its forward, in place: for blocks of a
    model whose forward loop is not ours (timm's).

    The module's class becomes a subclass of its class and of
    :class:`CheckpointedForward` (as FSDP2 does for its units): parameter
    names, ``isinstance`` and deep copies stay as they were, and hooks on
    the module (FSDP2's gathering) run outside the checkpoint.
    """
    cls = type(module)
    if issubclass(cls, CheckpointedForward):
        return module
    if cls not in _CHECKPOINTED_CLASSES:
        _CHECKPOINTED_CLASSES[cls] = type(f'Checkpointed{cls.__name__}',
                                          (CheckpointedForward, cls), {})
    module.__class__ = _CHECKPOINTED_CLASSES[cls]
    return module
