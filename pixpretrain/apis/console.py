"""What the tools print around a run: a header line, the notes of set-up.

The console of a run is brief (:mod:`pixpretrain.engine.console`): warnings
and progress. Notes logged while the config is read and adapted, before the
Runner and its log file exist (the schedule fitted to a shortened loop, a
GPU recipe trained in float32), are held back and then handed to the run's
logger, so they land in its log file and, when they are warnings, on the
console, once.
"""
import logging
import os
from contextlib import contextmanager
from typing import Iterator, List

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger


class _Holder(logging.Handler):

    def __init__(self, records: List[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def held_back_log() -> Iterator[List[logging.LogRecord]]:
    """Hold back what is logged to mmengine's current logger inside the
    block; yields the list of held records for :func:`hand_over`. When the
    block raises, the held warnings go to the console as they would have.
    """
    logger = MMLogger.get_current_instance()
    records: List[logging.LogRecord] = []
    handlers, logger.handlers = logger.handlers, [_Holder(records)]
    try:
        yield records
    except BaseException:
        logger.handlers = handlers
        hand_over([record for record in records
                   if record.levelno >= logging.WARNING], logger)
        raise
    finally:
        logger.handlers = handlers


def hand_over(records: List[logging.LogRecord],
              logger: logging.Logger) -> None:
    """Log held ``records`` through ``logger``'s handlers (file, console)."""
    for record in records:
        if record.levelno >= logger.getEffectiveLevel():
            logger.handle(record)


def add_progress_bar(cfg: Config) -> None:
    """Add a :class:`~pixpretrain.engine.ProgressBarHook` to the config's
    custom hooks unless it has one."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(hook.get('type') in ('ProgressBarHook', 'pixpretrain.'
                                    'ProgressBarHook') for hook in hooks):
        hooks.append(dict(type='ProgressBarHook'))
    cfg.custom_hooks = hooks


def describe_device(runner) -> str:
    """'cpu, 1 torch thread, 2 data workers' or 'cuda: NVIDIA H200 x 8
    processes': where a run computes, for its header line."""
    processes = (f' x {runner.world_size} processes'
                 if runner.world_size > 1 else '')
    if torch.cuda.is_available():
        return f'cuda: {torch.cuda.get_device_name()}{processes}'
    loader = runner.cfg.get('train_dataloader') or {}
    workers = loader.get('num_workers', 0)
    threads = torch.get_num_threads()
    return (f'cpu{processes}, {threads} torch thread'
            f'{"s" if threads != 1 else ""}, {workers} data worker'
            f'{"s" if workers != 1 else ""}')


def run_header(runner, config_path: str, action: str = 'training') -> str:
    """One line naming the config, the device, the work dir and the log
    file, printed before a run's first progress line."""
    log_file = os.path.join(runner.log_dir, f'{runner.timestamp}.log')
    return (f'{action} {config_path} on {describe_device(runner)}; work dir '
            f'{runner.work_dir}; full log in {log_file}')
