"""Checkpoint loading that never unpickles code.

torch >= 2.6 loads with ``weights_only=True``; mmengine's own checkpoints then
fail on the objects its message hub saves. Rather than falling back to full
unpickling (which runs whatever a file asks for), we allow exactly the
classes a pixpretrain checkpoint holds and nothing else, and install this
loader as mmengine's handler for every scheme its ``CheckpointLoader`` knows
(local paths, ``http(s)://``, ``torchvision://``, ``open-mmlab://``,
``mmcls://``, ``s3://`` ...), so resume, ``load_from``,
``init_cfg=dict(type='Pretrained')`` and our tools all go through it.
mmengine's remote loaders end in ``torch.hub.load_state_dict_from_url``,
whose ``weights_only`` defaults to False: a file in the download cache would
run code.
"""
import difflib
import io
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner.checkpoint import (CheckpointLoader, _get_mmengine_home,
                                        _process_mmcls_checkpoint,
                                        get_deprecated_model_names,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)

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


def _load_safely(source: Source, name: str,
                 map_location: Optional[Union[str, torch.device]]) -> Any:
    """The one place a checkpoint is unpickled, whatever scheme fetched it.

    Args:
        source: The file's path, or its bytes.
        name: How messages name it, quoted, e.g. ``"'ckpt.pth'"``.
        map_location: As for :func:`torch.load`.

    Raises:
        CheckpointError: the file is not a loadable checkpoint, or it
            references an object outside the allow-list (never executed).
    """
    try:
        with torch.serialization.safe_globals(checkpoint_globals()):
            return torch.load(source, map_location=map_location,
                              weights_only=True)
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
              map_location: Optional[Union[str, torch.device]] = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and our allow-list.

    Args:
        filename: A local checkpoint file (``~`` expanded).
        map_location: As for :func:`torch.load`.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        CheckpointError: the file is not a torch checkpoint, or references an
            object outside the allow-list (which is then never executed).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint '{filename}' does not exist")
    return _load_safely(filename, f"'{filename}'", map_location)


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local_safely(filename: str, map_location=None) -> Any:
    """A local file, through :func:`safe_load` (mmengine logs the
    "local_safely" backend).

    Args:
        filename: The checkpoint's path.
        map_location: As for :func:`torch.load`.
    """
    return safe_load(filename, map_location)


def _download(url: str, cached: str, progress: bool) -> None:
    """Fetch ``url`` to ``cached`` with torch.hub's downloader, unless an
    earlier run (or the user, offline) already put it there."""
    if osp.exists(cached):
        return
    os.makedirs(osp.dirname(cached), exist_ok=True)
    print_log(f'Downloading {url} to {cached}', logger='current')
    try:
        torch.hub.download_url_to_file(url, cached, progress=progress)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise CheckpointError(
            f"could not download '{url}' ({exc}); check the address and the "
            f"network, or put the file at '{cached}'") from None


@CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), force=True)
def load_from_http_safely(filename: str,
                          map_location=None,
                          model_dir: Optional[str] = None,
                          progress: bool = os.isatty(0)) -> Any:
    """Download into torch.hub's cache as mmengine does, then load safely.

    Args:
        filename: The checkpoint's URL.
        map_location: As for :func:`torch.load`.
        model_dir: The cache folder; ``<torch.hub.get_dir()>/checkpoints``
            (``$TORCH_HOME/hub/checkpoints``) if None, like torch.hub.
        progress: Show a download progress bar.
    """
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(filename).path))
    # As mmengine: local rank 0 downloads first; the others then find the
    # file, or download it themselves on another machine.
    rank, world_size = get_dist_info()
    if rank == 0:
        _download(filename, cached, progress)
    if world_size > 1:
        torch.distributed.barrier()
        _download(filename, cached, progress)
    return _load_safely(cached, f"'{filename}' (cached at '{cached}')",
                        map_location)


def _model_url(table: Dict[str, str], filename: str) -> str:
    """The URL (or path) mmengine's model table gives ``scheme://name``."""
    name = filename.split('://', 1)[1]
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ''
        raise CheckpointError(
            f"'{filename}' names no checkpoint mmengine knows{hint}")
    return table[name]


@CheckpointLoader.register_scheme(
    prefixes=('modelzoo://', 'torchvision://'), force=True)
def load_from_torchvision_safely(filename: str, map_location=None) -> Any:
    """torchvision's weights by mmengine's name table (``resnet50``,
    ``resnet50.imagenet1k_v2``), loaded through
    :func:`load_from_http_safely`.

    Args:
        filename: ``torchvision://resnet50``.
        map_location: As for :func:`torch.load`.
    """
    if filename.startswith('modelzoo://'):
        print_log('The URL scheme of "modelzoo://" is deprecated, please '
                  'use "torchvision://" instead', logger='current',
                  level=logging.WARNING)
    return load_from_http_safely(
        _model_url(get_torchvision_models(), filename), map_location)


@CheckpointLoader.register_scheme(
    prefixes=('open-mmlab://', 'openmmlab://'), force=True)
def load_from_openmmlab_safely(filename: str, map_location=None) -> Any:
    """OpenMMLab's weights by mmengine's table (plus
    ``$MMENGINE_HOME/open_mmlab.json``): a URL, or a file under
    ``$MMENGINE_HOME``.

    Args:
        filename: ``open-mmlab://resnet50_v1c``.
        map_location: As for :func:`torch.load`.
    """
    prefix, name = filename.split('://', 1)
    deprecated = get_deprecated_model_names()
    if name in deprecated:
        print_log(f'{prefix}://{name} is deprecated in favor of '
                  f'{prefix}://{deprecated[name]}', logger='current',
                  level=logging.WARNING)
        filename = f'{prefix}://{deprecated[name]}'
    url = _model_url(get_external_models(), filename)
    if url.startswith(('http://', 'https://')):
        return load_from_http_safely(url, map_location)
    return safe_load(osp.join(_get_mmengine_home(), url), map_location)


@CheckpointLoader.register_scheme(prefixes='mmcls://', force=True)
def load_from_mmcls_safely(filename: str, map_location=None) -> Any:
    """mmcls's weights by mmengine's table, backbone keys kept as mmengine
    keeps them.

    Args:
        filename: ``mmcls://resnet50``.
        map_location: As for :func:`torch.load`.
    """
    checkpoint = load_from_http_safely(
        _model_url(get_mmcls_models(), filename), map_location)
    return _process_mmcls_checkpoint(checkpoint)


@CheckpointLoader.register_scheme(
    prefixes=[r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], force=True)
def load_from_ceph_safely(filename: str,
                          map_location=None,
                          backend: str = 'petrel') -> Any:
    """Read the bytes through mmengine's file backend, as mmengine does,
    and load them safely.

    Args:
        filename: The object's path, e.g. ``s3://bucket/ckpt.pth``.
        map_location: As for :func:`torch.load`.
        backend: The mmengine file backend that reads it.
    """
    file_backend = get_file_backend(filename,
                                    backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return _load_safely(buffer, f"'{filename}'", map_location)


@CheckpointLoader.register_scheme(prefixes='pavi://', force=True)
def load_from_pavi_refused(filename: str, map_location=None) -> Any:
    """Refuse ``pavi://``: mmengine reads it through the pavi package (not a
    pixpretrain dependency, so its download could not be tested here).

    Args:
        filename: ``pavi://<model path>``.
        map_location: Unused.

    Raises:
        CheckpointError: always.
    """
    raise CheckpointError(
        f"refused to load '{filename}': pixpretrain does not load pavi:// "
        'checkpoints; download the file with pavi and pass its local path')
