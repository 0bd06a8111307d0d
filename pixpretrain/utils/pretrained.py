"""Load part of a checkpoint into a module, with every key accounted for.

A probe or a fine-tune takes the backbone out of a pretrainer's checkpoint.
The keys under the backbone's prefix must match the backbone exactly (no
missing, no unexpected, no shape mismatch); keys outside the prefix (the
decoder, heads, a momentum encoder) are expected and skipped, and reported
so the caller can log them. Anything else is a :class:`CheckpointError`
listing the offending keys, never a silent partial load.
"""
from typing import Dict, List, NamedTuple

import torch
from torch import nn

from .checkpoint import safe_load
from .errors import CheckpointError


class LoadedKeys(NamedTuple):
    """What :func:`load_pretrained` did: keys loaded, keys skipped."""
    loaded: List[str]
    skipped: List[str]


def checkpoint_state_dict(filename: str,
                          mmap: bool = False) -> Dict[str, torch.Tensor]:
    """The weights of a checkpoint file, whatever wraps them.

    Reads mmengine's ``state_dict``, a ``model`` entry, or a bare state
    dict, and strips the ``module.`` prefix DistributedDataParallel adds.

    Args:
        filename: Checkpoint path (loaded without unpickling code).
        mmap: Map the tensors instead of reading them (to look at keys and
            shapes without the memory).
    """
    state = safe_load(filename, map_location='cpu', mmap=mmap)
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"'{filename}' holds no state dict of tensors")
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()}


def _listed(keys: List[str], limit: int = 10) -> str:
    more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def check_fits(module: nn.Module, state: Dict[str, torch.Tensor],
               filename: str, prefix: str = '') -> Dict[str, torch.Tensor]:
    """The checkpoint's ``prefix`` keys, renamed to ``module``'s, when they
    match ``module``'s state dict exactly.

    Args:
        module: The module the weights are for.
        state: The checkpoint's state dict (:func:`checkpoint_state_dict`).
        filename: The checkpoint's name, for the message.
        prefix: Part of the checkpoint meant for ``module``; '' for all.

    Raises:
        CheckpointError: a key of ``module`` is missing from the
            checkpoint, the checkpoint has a key under ``prefix`` that
            ``module`` lacks, or shapes differ; the message lists them all.
    """
    ours = {k: v for k, v in state.items() if k.startswith(prefix)}
    if not ours:
        raise CheckpointError(
            f"no key of '{filename}' starts with '{prefix}'; its keys begin "
            f'{_listed(sorted(state), 5)}')
    expected = module.state_dict()
    given = {k[len(prefix):]: v for k, v in ours.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(prefix + k for k in set(given) - set(expected))
    mismatched = sorted(
        f'{prefix}{k} {tuple(given[k].shape)} vs {tuple(v.shape)}'
        for k, v in expected.items() if k in given and given[k].shape !=
        v.shape)
    problems = []
    if missing:
        problems.append(f'missing {_listed([prefix + k for k in missing])}')
    if unexpected:
        problems.append(f'unexpected {_listed(unexpected)}')
    if mismatched:
        problems.append(f'shape mismatch (checkpoint vs model) '
                        f'{_listed(mismatched)}')
    if problems:
        where = f" under '{prefix}'" if prefix else ''
        raise CheckpointError(
            f"'{filename}' does not fit {type(module).__name__}{where} "
            '(trained from another config? give the config it was trained '
            'with): ' + '; '.join(problems))
    return given


def load_pretrained(module: nn.Module, filename: str,
                    prefix: str = 'backbone.') -> LoadedKeys:
    """Load the checkpoint's ``prefix`` keys into ``module``, strictly.

    Args:
        module: Receives the weights; its state dict keys are the
            checkpoint's keys with ``prefix`` removed.
        filename: Checkpoint path (loaded without unpickling code).
        prefix: Part of the checkpoint to load; '' for all of it.

    Returns:
        The keys loaded (checkpoint names) and the keys outside ``prefix``
        that were skipped.

    Raises:
        CheckpointError: The checkpoint does not fit (:func:`check_fits`).
    """
    state = checkpoint_state_dict(filename)
    given = check_fits(module, state, filename, prefix)
    module.load_state_dict(given, strict=True)
    return LoadedKeys(sorted(prefix + k for k in given),
                      sorted(k for k in state if not k.startswith(prefix)))
