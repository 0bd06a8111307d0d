"""Errors that explain themselves in one line, and helpers that word them."""
import re
from typing import Any, Iterator, Optional

#: The page every "data not found" error points at.
DATA_DOCS = 'docs/data_preparation.md'


class PixpretrainError(Exception):
    """Base of the errors pixpretrain raises on purpose.

    Each carries a complete, one-line explanation meant for the user; the
    command-line tools print it without a traceback.
    """


class ConfigError(PixpretrainError, ValueError):
    """A config value is out of its allowed range."""


class NoLengthError(ConfigError, TypeError):
    """A stream was asked its length and has none declared (a TypeError
    too, what ``len()`` of an object without a length raises)."""


def no_length(dataset: str) -> NoLengthError:
    """The error of a stream without a declared ``length``, to be raised
    from its ``__len__``.

    Args:
        dataset: The class name, e.g. ``'WebDatasetShards'``.
    """
    return NoLengthError(
        f'{dataset} has no length: set train_dataloader.dataset.length to '
        'the samples of one pass (mmengine asks the data loader for it to '
        'build param schedulers; the stream does not stop there)')


class NonFiniteLossError(PixpretrainError, RuntimeError):
    """Training kept producing non-finite losses or gradients."""


class UnknownTypeError(PixpretrainError, KeyError):
    """A config names a ``type`` no registry holds."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class DataRootNotFoundError(PixpretrainError, FileNotFoundError):
    """A data set's root folder or file does not exist."""


class PathNotFoundError(PixpretrainError, FileNotFoundError):
    """A file a flag or config key names (a config, a checkpoint) does not
    exist."""


class OutputPathError(PixpretrainError, OSError):
    """A path to write to cannot take the output: a file path that is a
    folder, a folder path that is a file, a parent that is a file, or the
    very file being read."""


class CheckpointError(PixpretrainError, RuntimeError):
    """A file is not a checkpoint, or holds objects we refuse to unpickle."""


class UnreadableImageError(PixpretrainError, OSError):
    """An image file is missing, empty, truncated or not an image.

    Data sets catch it to skip the file (see
    :class:`pixpretrain.datasets.BadImageBudget`); elsewhere it stops with
    one line naming the file.
    """


class BadDataError(PixpretrainError, RuntimeError):
    """More of a data set's files were unreadable than the config allows."""


class DataFileError(BadDataError):
    """A data set's file is unreadable, or holds objects we refuse to
    unpickle (e.g. a CIFAR batch naming a callable the official files never
    hold); the message names the file and what was refused."""


def too_many_tokens(count: int, context_length: int) -> ConfigError:
    """The error for a token sequence longer than a model's context: the
    tokenizer and the model were configured apart.

    Returns:
        ConfigError: Naming both lengths and the keys to align, to be raised.
    """
    return ConfigError(
        f'{count} tokens exceed context_length={context_length}: give the '
        "tokenizer (TokenizeText's tokenizer.context_length) and the model "
        '(its text backbone or caption head) the same context_length')


def bad_value(key: str, value: Any, requirement: str) -> ConfigError:
    """The error for a config value out of range, worded one way everywhere.

    Args:
        key: The config key, e.g. ``'mask_ratio'`` or ``'backbone.arch'``.
        value: The offending value.
        requirement: What it must be, ending with the allowed values or
            range, e.g. ``'must lie strictly between 0 and 1 (allowed:
            0 < mask_ratio < 1)'``.

    Returns:
        ConfigError: ``"<key> = <value>: <requirement>"``, to be raised.
    """
    shown = f"'{value}'" if isinstance(value, str) else value
    return ConfigError(f'{key} = {shown}: {requirement}')


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it, outermost first (cycles cut).

    Args:
        exc: The exception caught.
    """
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def find_user_error(exc: BaseException) -> Optional[BaseException]:
    """The innermost :class:`PixpretrainError` behind ``exc``, if any.

    mmengine re-raises errors from constructors as ``type(e)(prefix + msg)``
    inside an ``except`` block, so the original is reachable via
    ``__context__``; the innermost one has the clean message. One raised
    ``from`` another on purpose (``raise BadDataError(...) from error``)
    says more than its cause, and is taken.
    """
    found = None
    for current in exception_chain(exc):
        if isinstance(current, PixpretrainError):
            found = current
            if current.__cause__ is not None:
                break
    return found


# torch re-raises an error from a DataLoader worker as the same type with
# this message around the worker's traceback (torch/_utils.py).
_WORKER_WRAPPED = re.compile(
    r'^Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback')


def _unwrap_worker_message(message: str) -> str:
    """The original one-line message of an error a DataLoader worker raised:
    the traceback's last line without its ``module.Type: `` prefix."""
    if not _WORKER_WRAPPED.match(message):
        return message
    last = message.rstrip().rsplit('\n', 1)[-1]
    return re.sub(r'^[\w.]+: ', '', last, count=1)


def user_error_message(exc: BaseException) -> Optional[str]:
    """The one-line message of the :class:`PixpretrainError` behind ``exc``,
    else ``None``.

    The registry-aware :func:`pixpretrain.registry.explain` builds on it;
    this half needs no registry, so it lives on the ground floor.

    Args:
        exc: The exception caught, however mmengine or a DataLoader worker
            wrapped ours.
    """
    found = find_user_error(exc)
    if found is None:
        return None
    return _unwrap_worker_message(str(found))
