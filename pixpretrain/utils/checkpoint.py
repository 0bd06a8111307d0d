"""Checkpoint loading that never unpickles code.

torch >= 2.6 loads with ``weights_only=True``; mmengine's own checkpoints then
fail on the objects its message hub saves. Rather than falling back to full
unpickling (which runs whatever a file asks for), we allow exactly the
classes a pixpretrain checkpoint holds and nothing else, and install this
loader as mmengine's handler for local paths; :mod:`.remote_checkpoint` does
the same for every other scheme its ``CheckpointLoader`` knows
(``http(s)://``, ``torchvision://``, ``open-mmlab://``, ``mmcls://``,
``s3://`` ...), so resume, ``load_from``,
``init_cfg=dict(type='Pretrained')`` and our tools all go through it.
"""
import io
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import CheckpointError, PathNotFoundError

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


Source = Union[str, io.BytesIO]  # a file's path, or its bytes

# The ways torch's weights-only unpickler names what it refused
# (torch/_weights_only_unpickler.py), and our getattr stand-in's message.
_REFUSED = (
    re.compile(r'GLOBAL (\S+) (?:was not an allowed global|whose module)'),
    re.compile(r"but got <class '([^']+)'>"),
    re.compile(r'unrecognized function <(?:built-in |bound )?'
               r'(?:function|method) ([^\s>]+)'),
    re.compile(r'unrecognized function (\S+)'),
    re.compile(r'(getattr\(.+?\)) is not allowed in a checkpoint'),
)


def _refused_name(text: str) -> Optional[str]:
    """What a weights-only error says was refused, if it says so."""
    for pattern in _REFUSED:
        found = pattern.search(text)
        if found:
            return found.group(1).rstrip('.,;:')
    return None


def _torch_reason(exc: Exception) -> str:
    """The first sentence of torch's error, without the advice torch wraps
    around weights-only failures: it suggests ``weights_only=False``, i.e.
    running the file's code."""
    text = str(exc)
    markers = ('WeightsUnpickler error:', torch.serialization.UNSAFE_MESSAGE,
               'Weights only load failed.')
    for rest in [text.partition(m)[2] for m in markers if m in text] + [text]:
        lines = [line.strip() for line in rest.splitlines()
                 if line.strip() and 'weights_only' not in line]
        if lines:
            return lines[0].split('. ')[0]
    return type(exc).__name__


def _describe_unloadable(source: Source, name: str, reason: str) -> str:
    """Say what a file torch could not load is, from its first bytes."""
    if isinstance(source, io.BytesIO):
        size, head = len(source.getvalue()), source.getvalue()[:256]
    else:
        size = osp.getsize(source)
        with open(source, 'rb') as file:
            head = file.read(256)
    again = 'save or download it again'
    if size == 0:
        return f'{name} is not a PyTorch checkpoint: it is empty'
    if head.startswith(b'PK'):  # torch.save's zip archive
        try:
            with zipfile.ZipFile(source) as archive:
                members = archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError):
            return (f'{name} is truncated: its zip archive is incomplete; '
                    f'{again}')
        if any(m.rsplit('/', 1)[-1] == 'constants.pkl' for m in members):
            return (f'{name} is not a PyTorch checkpoint: it is a TorchScript '
                    'archive (torch.jit.save); load it with torch.jit.load')
        if not any(m.rsplit('/', 1)[-1] == 'data.pkl' for m in members):
            return (f'{name} is not a PyTorch checkpoint: it is a zip archive '
                    'without a PyTorch pickle (it holds '
                    f'{", ".join(members[:3])})')
        return f'{name} is a damaged PyTorch checkpoint ({reason}); {again}'
    if head[:1] == b'\x80':  # a pickle: torch < 1.6's format, or plain
        return (f'{name} is a truncated or damaged PyTorch checkpoint '
                f'({reason}); {again}')
    if not re.search(rb'[\x00-\x08\x0b\x0e-\x1f\x7f]', head):
        text = head.decode('utf-8', errors='ignore').strip()
        first = text.splitlines()[0][:40] if text else ''
        return (f'{name} is not a PyTorch checkpoint: it is a text file '
                f'(it begins {first!r})')
    return (f'{name} is not a PyTorch checkpoint (it begins with bytes '
            f"{head[:4].hex(' ')}; torch.save writes a zip archive)")


def load_safely(source: Source, name: str,
                 map_location: Optional[Union[str, torch.device]],
                 mmap: bool = False) -> Any:
    """The one place a checkpoint is unpickled, whatever scheme fetched it.

    Args:
        source: The file's path, or its bytes.
        name: How messages name it, quoted, e.g. ``"'ckpt.pth'"``.
        map_location: As for :func:`torch.load`.
        mmap: Map the tensors' storage instead of reading it (a path to a
            zip-format file only): for reading the small entries alone.

    Raises:
        CheckpointError: the file is not a loadable checkpoint, or it
            references an object outside the allow-list (never executed).
    """
    try:
        with torch.serialization.safe_globals(checkpoint_globals()):
            return torch.load(source, map_location=map_location,
                              weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 -- torch's many parse errors
        refused = (_refused_name(str(exc))
                   if isinstance(exc, pickle.UnpicklingError) else None)
        if refused is not None:
            raise CheckpointError(
                f'refused to load {name}: it references {refused}, which '
                'is not a tensor or a type pixpretrain checkpoints hold. '
                'Unpickling it could run code, so nothing in the file was '
                'executed. Only load files you trust; to allow a class '
                'deliberately, pass it to '
                'torch.serialization.add_safe_globals before loading.'
            ) from None
        reason = _torch_reason(exc)
    raise CheckpointError(_describe_unloadable(source, name, reason))


def safe_load(filename: str,
              map_location: Optional[Union[str, torch.device]] = None,
              mmap: bool = False) -> Any:
    """``torch.load`` with ``weights_only=True`` and our allow-list.

    Args:
        filename: A local checkpoint file (``~`` expanded).
        map_location: As for :func:`torch.load`.
        mmap: Map the tensors instead of reading them, where the file is a
            zip archive (what ``torch.save`` writes); ignored for the old
            format, which torch cannot map.

    Raises:
        PathNotFoundError: ``filename`` is no file (a FileNotFoundError).
        CheckpointError: the file is not a torch checkpoint, or references an
            object outside the allow-list (which is then never executed).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        what = 'is a folder' if osp.isdir(filename) else 'does not exist'
        raise PathNotFoundError(f"checkpoint '{filename}' {what}: give the "
                                '.pth file a run saved')
    return load_safely(filename, f"'{filename}'", map_location,
                       mmap and zipfile.is_zipfile(filename))


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local_safely(filename: str, map_location=None) -> Any:
    """A local file, through :func:`safe_load` (mmengine logs the
    "local_safely" backend), its tensors mapped rather than read: every
    rank of a job loads the whole file (``load_from``, ``--resume``), and
    mapped, they share the page cache and read only what they copy (a
    sharded rank its shard) instead of each holding a full copy.

    Args:
        filename: The checkpoint's path.
        map_location: As for :func:`torch.load`.
    """
    return safe_load(filename, map_location, mmap=True)
