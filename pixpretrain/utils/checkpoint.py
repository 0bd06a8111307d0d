"""Checkpoint loading that never unpickles code.

torch >= 2.6 loads with ``weights_only=True``; mmengine's own checkpoints then
fail on the objects its message hub saves. Rather than falling back to full
unpickling (which runs whatever a file asks for), we allow exactly the
classes a pixpretrain checkpoint holds and nothing else, and install this
loader as mmengine's handler for local files, so resume, ``load_from``,
``init_cfg=dict(type='Pretrained')`` and our tools all go through it.
"""
import os.path as osp
import pickle
import re
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import CheckpointError

# HistoryBuffer pickles its statistics table as getattr(HistoryBuffer, name).
_HISTORY_BUFFER_METHODS = frozenset({'min', 'max', 'current', 'mean'})


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Stands in for ``builtins.getattr`` while unpickling: only the lookups
    mmengine's HistoryBuffer pickles are answered."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", obj)!r}, {name!r}) is not '
        'allowed in a checkpoint')


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    core = np._core if hasattr(np, '_core') else np.core  # numpy 2 vs 1
    allowed: List[Union[Callable, Tuple[Callable, str]]] = [
        np.ndarray, np.dtype
    ]
    for module_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed += [(core.multiarray._reconstruct,
                     f'{module_name}._reconstruct'),
                    (core.multiarray.scalar, f'{module_name}.scalar')]
    # numpy >= 1.25 pickles a dtype's class for some dtypes.
    for name in ('Float64DType', 'Float32DType', 'Float16DType',
                 'Int64DType', 'Int32DType', 'Int16DType', 'Int8DType',
                 'UInt8DType', 'BoolDType'):
        dtype_cls = getattr(getattr(np, 'dtypes', None), name, None)
        if dtype_cls is not None:
            allowed.append(dtype_cls)
    return allowed


def checkpoint_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The exact non-tensor globals a pixpretrain checkpoint may reference."""
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'),
            (_history_buffer_getattr, '__builtin__.getattr')
            ] + _numpy_globals()


_UNSUPPORTED = re.compile(r'Unsupported global: GLOBAL (\S+)')
_UNRECOGNIZED_CALL = re.compile(r'unrecognized function (.+?)(?:\.|$)',
                                re.MULTILINE)


def safe_load(filename: str,
              map_location: Optional[Union[str, torch.device]] = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and our allow-list.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        CheckpointError: the file is not a torch checkpoint, or references an
            object outside the allow-list (which is then never executed).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint '{filename}' does not exist")
    try:
        with torch.serialization.safe_globals(checkpoint_globals()):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = _UNSUPPORTED.search(text) or _UNRECOGNIZED_CALL.search(text)
        if found or 'is not allowed in a checkpoint' in text:
            what = (found.group(1).rstrip('.,;:') if found else
                    text.splitlines()[0])
            raise CheckpointError(
                f"refused to load '{filename}': it references {what}, which "
                'is not a tensor or a type pixpretrain checkpoints hold. '
                'Unpickling it could run code, so nothing in the file was '
                'executed. Only load files you trust; to allow a plain-data '
                'type, add it with torch.serialization.add_safe_globals.'
            ) from None
        raise CheckpointError(
            f"'{filename}' is not a PyTorch checkpoint "
            f'({text.splitlines()[0] if text else "unreadable pickle"})'
        ) from None
    except Exception as exc:  # noqa: BLE001 -- any other failure: not ours
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"'{filename}' is not a PyTorch checkpoint, or it is truncated "
            f'({first})') from None


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local_safely(filename: str, map_location=None) -> Any:
    """mmengine logs this as the "local_safely" backend; see :func:`safe_load`."""
    return safe_load(filename, map_location)
