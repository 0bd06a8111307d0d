"""How many threads torch gets in a training (or test) process.

torch starts with one intra-op thread per core, and each data loader
worker is a process of its own (with one thread). On a CPU machine the
training process and its workers then ask for more threads than there are
cores, and the threads spin-wait on each other: a 2-core machine with two
workers ran the demo at 1.5-2.7 s per step instead of 0.3 s. So the
training process takes the cores its data workers leave.
"""
import os
from typing import Mapping, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from pixpretrain.utils.errors import ConfigError


def usable_cores() -> int:
    """Cores this process may run on (its affinity, where the OS says)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def choose_threads(cfg: Config, environ: Mapping[str, str] = os.environ,
                   cores: Optional[int] = None,
                   loader: str = 'train_dataloader') -> Tuple[int, str]:
    """The training process's torch threads, and why.

    In order: the config's ``env_cfg.torch_threads``; ``OMP_NUM_THREADS``
    when the user set it; otherwise the cores left after the data
    loader's workers, shared by the processes of this node
    (``LOCAL_WORLD_SIZE``), at least one.

    Args:
        cfg: The training config.
        environ: The environment (``os.environ``).
        cores: Usable cores (:func:`usable_cores`).
        loader: The data loader whose workers run beside this process.

    Returns:
        (threads, reason): the count and a few words saying where it came
        from, for the log.

    Raises:
        ConfigError: ``env_cfg.torch_threads`` is not a positive integer.
    """
    explicit = (cfg.get('env_cfg') or {}).get('torch_threads')
    if explicit is not None:
        if isinstance(explicit, bool) or not isinstance(explicit, int) \
                or explicit < 1:
            raise ConfigError(
                'env_cfg.torch_threads must be a positive integer (or None '
                f'for the cores the data workers leave), got {explicit!r}')
        return explicit, 'env_cfg.torch_threads'
    if environ.get('OMP_NUM_THREADS', '').isdigit() \
            and int(environ['OMP_NUM_THREADS']) > 0:
        return int(environ['OMP_NUM_THREADS']), 'OMP_NUM_THREADS'
    cores = cores or usable_cores()
    processes = max(1, int(environ.get('LOCAL_WORLD_SIZE', '1') or 1))
    workers = (cfg.get(loader) or {}).get('num_workers', 0) or 0
    threads = max(1, cores // processes - workers)
    return threads, (f'{cores} cores, {processes} process(es), {workers} '
                     'data worker(s) each')


def apply_threads(cfg: Config, loader: str = 'train_dataloader') -> int:
    """Set torch's intra-op threads by :func:`choose_threads`; the count."""
    threads, reason = choose_threads(cfg, loader=loader)
    torch.set_num_threads(threads)
    if reason != 'env_cfg.torch_threads':
        reason += '; env_cfg.torch_threads overrides'
    print_log(f'torch threads: {threads} ({reason})', logger='current')
    return threads
