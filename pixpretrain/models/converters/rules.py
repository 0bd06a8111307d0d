"""Renaming a state dict by rules, so that every tensor is accounted for.

A rule pairs a source key template with a target one; ``{i}`` stands for a
layer index, ``{p}`` for a parameter or buffer name, ``{rest}`` for the rest
of a key. Every source key must match exactly one rule or be left out on
purpose with a reason; anything else is an error naming the keys, so no
tensor is dropped silently. Swapping a table's columns gives the inverse
conversion, so round trips are exact by construction.
"""
import re
from collections import OrderedDict
from typing import (Dict, List, Mapping, Optional, Pattern, Sequence, Tuple)

import torch

from pixpretrain.utils.errors import PixpretrainError
from pixpretrain.utils.progress import progress

Rule = Tuple[str, str]  # (source template, target template)
StateDict = Mapping[str, torch.Tensor]

_PLACEHOLDERS = {
    'i': r'\d+',
    'p': r'weight|bias|running_mean|running_var|num_batches_tracked',
    'rest': r'.+',
}


class ConversionError(PixpretrainError, ValueError):
    """A state dict does not have the layout a converter expects."""


def _compile(template: str) -> Pattern:
    pattern = re.escape(template)
    for name, regex in _PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape('{' + name + '}'),
                                  f'(?P<{name}>{regex})')
    return re.compile(pattern)


def inverted(rules: Sequence[Rule]) -> List[Rule]:
    """The same table read from target to source."""
    return [(target, source) for source, target in rules]


def prefixed(rules: Sequence[Rule], source: str = '',
             target: str = '') -> List[Rule]:
    """``rules`` with prefixes added to their source and target sides."""
    return [(source + s, target + t) for s, t in rules]


def unwrap_checkpoint(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The state dict inside a checkpoint file's object.

    Understands mmengine's ``{'state_dict': ...}``, the official MAE and
    DeiT releases' ``{'model': ...}`` and a bare state dict.
    """
    if not isinstance(checkpoint, Mapping):
        # torch.save(tensor) or of a list loads fine but holds no names.
        raise ConversionError(
            f'expected a checkpoint (a dict of named tensors), found a '
            f'{type(checkpoint).__name__}; save model.state_dict() or the '
            "Runner's checkpoint, not a bare tensor or list")
    for key in ('state_dict', 'model'):
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping):
            checkpoint = inner
            break
    not_tensors = [k for k, v in checkpoint.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ConversionError(
            'expected a state dict (name -> tensor) or a checkpoint holding '
            "one under 'state_dict' or 'model'; found non-tensor entries "
            f'{", ".join(map(repr, not_tensors[:5]))}')
    return dict(checkpoint)


def convert_keys(state_dict: StateDict,
                 rules: Sequence[Rule],
                 left_out: Sequence[Tuple[str, str]] = (),
                 description: Optional[str] = None
                 ) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str]]:
    """Rename every key of ``state_dict`` by the first rule it matches.

    Args:
        state_dict: Source tensors.
        rules: (source template, target template) pairs.
        left_out: (template, reason) pairs of keys deliberately not carried
            over, e.g. a classifier the target model has no place for.
        description: Draw a progress bar with this text; ``None`` for none.

    Returns:
        The renamed tensors (the same tensor objects, in source order), and
        ``{source key: reason}`` for every key left out.

    Raises:
        ConversionError: A key matches no rule, or two keys would land on
            the same target.
    """
    compiled = [(_compile(s), t) for s, t in rules]
    skipped = [(_compile(s), reason) for s, reason in left_out]
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    sources: Dict[str, str] = {}
    reasons: Dict[str, str] = {}
    unknown = []
    # disable=None: the policy's terminal check; True: no bar asked for.
    items = progress(state_dict.items(), total=len(state_dict),
                     desc=description or '',
                     disable=None if description is not None else True)
    for key, tensor in items:
        for pattern, target in compiled:
            match = pattern.fullmatch(key)
            if match:
                new_key = target.format(**match.groupdict())
                if new_key in sources:
                    raise ConversionError(
                        f"'{sources[new_key]}' and '{key}' would both land "
                        f"on '{new_key}'")
                sources[new_key] = key
                converted[new_key] = tensor
                break
        else:
            for pattern, reason in skipped:
                if pattern.fullmatch(key):
                    reasons[key] = reason
                    break
            else:
                unknown.append(key)
    if unknown:
        shown = ', '.join(unknown[:8]) + (', ...' if len(unknown) > 8 else '')
        raise ConversionError(
            f'{len(unknown)} of {len(state_dict)} tensors have no '
            f'counterpart in the target layout: {shown}. Is this the '
            'layout this converter reads?')
    return converted, reasons
