"""The remote schemes of mmengine's ``CheckpointLoader`` (``http(s)://``,
``torchvision://``, ``open-mmlab://``, ``mmcls://``, ``s3://`` /
``petrel://``, ``pavi://``), registered in place of mmengine's own loaders:
each fetches the file as mmengine does and unpickles it through
:func:`pixpretrain.utils.checkpoint.load_safely`. mmengine's loaders end in
``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
False: a file in the download cache would run code. Importing
:mod:`pixpretrain.utils` registers them.
"""
import difflib
import io
import logging
import os
import os.path as osp
from typing import Any, Dict, Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import (CheckpointLoader, _get_mmengine_home,
                                        _process_mmcls_checkpoint,
                                        get_deprecated_model_names,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)

from .checkpoint import load_safely, safe_load
from .errors import CheckpointError


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
    return load_safely(cached, f"'{filename}' (cached at '{cached}')",
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
        return load_safely(buffer, f"'{filename}'", map_location)


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
