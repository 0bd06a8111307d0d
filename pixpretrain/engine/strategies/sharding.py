"""How FSDP2 splits a model into units: every block of every backbone, the
units an algorithm names, then the root; 0-d parameters replicated.
:class:`~.fsdp2.FSDP2Strategy` shards with :func:`shard_model`."""
import itertools
from typing import List, Optional, Set

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import (MixedPrecisionPolicy, fully_shard,
                                    register_fsdp_forward_method)
from torchvision.models.resnet import BasicBlock, Bottleneck

from pixpretrain.models.utils import TransformerBlock

#: Modules sharded one by one with ``shard_blocks``: every block of our
#: backbones (and of the MAE decoder), so only one block's full weights
#: exist at a time. A part whose blocks are of other types (``TimmBackbone``)
#: lists them with a ``sharding_blocks()`` method (see
#: :func:`sharding_blocks`).
BLOCK_TYPES = (TransformerBlock, BasicBlock, Bottleneck)
#: Methods of an algorithm that the engine calls on every rank outside its
#: forward (ZeroShotHook embeds the class prompts with ``embed_text``):
#: FSDP2 gathers the root unit's weights around them too. None of them
#: calls the algorithm's forward (a nested call would free the weights
#: early).
ROOT_FORWARD_METHODS = ('embed_text', 'embed_image')

def sharding_blocks(model: nn.Module) -> List[nn.Module]:
    """The model's blocks: modules of :data:`BLOCK_TYPES`, and those that
    any submodule's ``sharding_blocks()`` returns (a timm model's blocks,
    which the engine cannot know by type without importing timm).

    They must not nest (each is sharded before what holds it, bottom up
    as FSDP2 asks, with no order among them); neither ours nor timm's do.
    """
    found = {id(m): m for m in model.modules() if isinstance(m, BLOCK_TYPES)}
    for module in model.modules():
        if callable(getattr(module, 'sharding_blocks', None)):
            found.update((id(m), m) for m in module.sharding_blocks())
    return list(found.values())


def sharding_units(model: nn.Module) -> List[nn.Module]:
    """The model's own units besides the blocks: the submodules its
    ``sharding_units`` names (MoCo's key encoder).

    Everything else stays in the root's unit, gathered for the whole step,
    so an algorithm may call any method of its parts (``backbone.embed``,
    ``head.loss``); FSDP2 gathers a unit's weights only around its
    ``forward``.
    """
    return [model.get_submodule(name)
            for name in getattr(model, 'sharding_units', ())]


def replicate_scalars(model: nn.Module) -> Set[nn.Parameter]:
    """The model's 0-d parameters (CLIP's logit scale), which FSDP2 cannot
    shard: each rank keeps them whole, as DDP does, and averages their
    gradients over the ranks once backward has written them."""
    scalars = {p for p in model.parameters() if p.ndim == 0}
    world = dist.get_world_size()

    def average(param: nn.Parameter) -> None:
        dist.all_reduce(param.grad)  # gloo has no AVG
        param.grad.div_(world)

    for param in scalars:
        if param.requires_grad:
            param.register_post_accumulate_grad_hook(average)
    return scalars


def shard_model(model: nn.Module, shard_blocks: bool = True,
                reshard_after_forward: bool = True,
                mp_policy: Optional[MixedPrecisionPolicy] = None
                ) -> nn.Module:
    """Shard ``model`` (on this rank's device) over every rank: blocks,
    then the model's :func:`sharding_units`, then the root (bottom up, as
    FSDP2 asks); 0-d parameters replicated (:func:`replicate_scalars`).
    Every rank starts from rank 0's weights and buffers, as under DDP,
    whatever seed each rank initialised with (``diff_rank_seed``).

    Args:
        model: The model, in place; it keeps its class and parameter names.
        shard_blocks, reshard_after_forward: See
            :class:`~.fsdp2.FSDP2Strategy`.
        mp_policy: FSDP2's mixed precision; float32 when ``None``.
    """
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            dist.broadcast(tensor, src=0)
    device_type = next(model.parameters()).device.type
    mesh = init_device_mesh(device_type, (dist.get_world_size(), ))
    shard = dict(mesh=mesh, reshard_after_forward=reshard_after_forward,
                 mp_policy=mp_policy or MixedPrecisionPolicy(),
                 ignored_params=replicate_scalars(model))
    if shard_blocks:
        for block in sharding_blocks(model):
            fully_shard(block, **shard)
    for unit in sharding_units(model):
        fully_shard(unit, **shard)
    fully_shard(model, **shard)
    for method in ROOT_FORWARD_METHODS:
        if callable(getattr(model, method, None)):
            register_fsdp_forward_method(model, method)
    return model
