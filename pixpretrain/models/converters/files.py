"""Converting checkpoint files: safe loading, conversion, a strict load
into matching modules, saving; the model converter tools call
:func:`convert_file`."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Tuple

import torch

from pixpretrain.utils.checkpoint import safe_load
from pixpretrain.utils.fileio import check_output_path, torch_save_atomic
from .rules import unwrap_checkpoint

Converter = Callable[..., Tuple[Dict[str, torch.Tensor], Dict[str, str]]]
Check = Callable[[Dict[str, torch.Tensor]], List[str]]


def _left_out_lines(left_out: Dict[str, str]) -> List[str]:
    """One line per key left out, or one per reason with its count where
    a reason covers many keys (a momentum encoder's hundreds of tensors)."""
    by_reason: Dict[str, List[str]] = {}
    for key, reason in left_out.items():
        by_reason.setdefault(reason, []).append(key)
    lines = []
    for reason, keys in by_reason.items():
        if len(keys) <= 2:
            lines += [f'left out {key}: {reason}' for key in keys]
        else:
            lines.append(f'left out {len(keys)} tensors ({keys[0]}, ..., '
                         f'{keys[-1]}): {reason}')
    return lines


def convert_file(src: str, dst: str, convert: Converter,
                 check: Optional[Check] = None,
                 pixpretrain_checkpoint: bool = True) -> List[str]:
    """Read ``src``, convert it, check it, write ``dst``.

    Args:
        src: A checkpoint file; read with the allow-listed loader, so a file
            that would run code is refused (:class:`CheckpointError`).
        dst: Output file.
        convert: One of this package's converters.
        check: Loads the converted tensors into modules of their shape and
            returns lines describing them; raises on any mismatch.
        pixpretrain_checkpoint: Save ``{'state_dict': ..., 'meta': ...}``
            as mmengine writes (for ``load_from`` / ``init_cfg``); else the
            bare state dict (what timm's ``load_state_dict`` takes).

    Returns:
        Lines for the user: counts, each key left out and why, the check.

    Raises:
        OutputPathError: ``dst`` is a folder, lies below a file, or is
            ``src`` itself (checked before ``src`` is read).
    """
    check_output_path(dst, 'DST', sources=[src])
    source = unwrap_checkpoint(safe_load(src, map_location='cpu'))
    converted, left_out = convert(source, progress=True)
    lines = [f'{len(converted)} of {len(source)} tensors converted']
    lines += _left_out_lines(left_out)
    if check is not None:
        lines += check(converted)
    if pixpretrain_checkpoint:
        output = dict(state_dict=converted,
                      meta=dict(converted_from=osp.basename(src),
                                converter=getattr(convert, '__name__', '')))
    else:
        output = dict(converted)
    torch_save_atomic(output, dst)
    lines.append(f'saved {dst}')
    return lines
