"""A training run's console: warnings and progress; the log file keeps all.

mmengine's Runner logs, at INFO and to the console, the whole environment,
the whole config and one line per parameter without weight decay: some 300
lines before the first progress line of a small run. A newcomer's console
should show what matters (progress, warnings, where results went) while the
log file in the work dir keeps everything for whoever needs it.

:class:`BriefConsoleRunner` is mmengine's Runner with that console: its
logger's console handler passes only warnings and errors and the loops'
progress lines (``Iter(train) [ 50/600] ...``, ``Epoch(val) ...``, ``resumed
epoch: 1, iter: 10``), and
writes through tqdm, so a progress bar drawn on standard error is cleared
and redrawn around each line instead of being written over.
"""
import logging
import re
from typing import Optional, Tuple

from mmengine.logging import MMLogger
from tqdm import tqdm

from pixpretrain.registry import RUNNERS
from .runners import PretrainFlexibleRunner, PretrainRunner

#: The loops' progress lines, as mmengine's LogProcessor starts them, and
#: where a resumed run goes on (the Runner's own line).
PROGRESS_LINE = re.compile(
    r'(Epoch|Iter)\((train|val|test)\)|resumed epoch: ')

#: Warnings mmengine raises about its own internals (CheckpointHook builds
#: a FileClient whatever the config says): nothing a user can act on. They
#: stay in the log file.
MMENGINE_INTERNAL_NOTICES: Tuple[str, ...] = (
    '"FileClient" will be deprecated in future',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


class BriefConsoleFilter(logging.Filter):
    """Pass warnings, errors, progress lines and where a resumed run goes
    on; drop the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return not message.startswith(MMENGINE_INTERNAL_NOTICES)
        return PROGRESS_LINE.match(message) is not None


class TqdmConsoleHandler(logging.StreamHandler):
    """A console handler that clears tqdm's bars (on either standard stream)
    while it writes a line, and redraws them after."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            with tqdm.external_write_mode(file=self.stream):
                self.stream.write(message + self.terminator)
                self.flush()
        except Exception:  # logging's own policy: report, never raise
            self.handleError(record)


def console_handler(logger: logging.Logger) -> Optional[logging.Handler]:
    """The logger's console handler (a stream handler that is not a file
    handler), or None."""
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler):
            return handler
    return None


def keep_console_brief(logger: logging.Logger) -> None:
    """Make ``logger``'s console show warnings and progress only (see the
    module's documentation); its other handlers (the log file) are left as
    they are. Calling it again changes nothing.

    Args:
        logger: An MMLogger (or any logger with a console handler).
    """
    original = console_handler(logger)
    if original is None or isinstance(original, TqdmConsoleHandler):
        return
    brief = TqdmConsoleHandler(original.stream)
    brief.setLevel(original.level)
    brief.setFormatter(original.formatter)
    for existing in original.filters:  # mmengine's duplicate-warning filter
        brief.addFilter(existing)
    brief.addFilter(BriefConsoleFilter())
    logger.handlers[logger.handlers.index(original)] = brief


class _BriefConsole:
    """Mixed in before a runner class: its logger's console is brief."""

    def build_logger(self, *args, **kwargs) -> MMLogger:
        logger = super().build_logger(*args, **kwargs)
        keep_console_brief(logger)
        return logger


@RUNNERS.register_module()
class BriefConsoleRunner(_BriefConsole, PretrainRunner):
    """:class:`PretrainRunner` (mmengine's Runner, same arguments) with a
    brief console: see the module's documentation. ``tools/train.py
    --verbose`` uses :class:`PretrainRunner` itself."""


@RUNNERS.register_module()
class BriefConsoleFlexibleRunner(_BriefConsole, PretrainFlexibleRunner):
    """:class:`PretrainFlexibleRunner` (strategies such as FSDP2; same
    arguments) with a brief console."""

    def build_strategy(self, *args, **kwargs):
        # A FlexibleRunner logs through its strategy's logger, built here
        # (not by build_logger), before it logs the environment.
        strategy = super().build_strategy(*args, **kwargs)
        keep_console_brief(strategy.logger)
        return strategy
