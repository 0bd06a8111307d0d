"""Errors that explain themselves in one line, and helpers that word them."""
import difflib
import re
from typing import Any, Iterator, List, Optional

from mmengine.registry import Registry


class PixpretrainError(Exception):
    """Base of the errors pixpretrain raises on purpose.

    Each carries a complete, one-line explanation meant for the user; the
    command-line tools print it without a traceback.
    """


class ConfigError(PixpretrainError, ValueError):
    """A config value is out of its allowed range."""


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


def _registry_chain(registry: Registry) -> Iterator[Registry]:
    """The registry, its ancestors, and their children (mmengine's lookup)."""
    seen = set()
    root = registry
    while root.parent is not None:
        root = root.parent
    stack = [root]
    while stack:
        reg = stack.pop()
        if id(reg) in seen:
            continue
        seen.add(id(reg))
        yield reg
        stack.extend(reg.children.values())


def registered_names(registry: Registry) -> List[str]:
    """Every name reachable from ``registry``, imports of locations done."""
    registry.import_from_location()
    names = set()
    for reg in _registry_chain(registry):
        names.update(reg.module_dict)
    return sorted(names)


def unknown_type_message(registry: Registry, name: str,
                         limit: int = 5) -> str:
    """One line: what was asked for, where, and the nearest names."""
    names = registered_names(registry)
    short = name.split('.')[-1]
    close: List[str] = difflib.get_close_matches(short, names, n=limit,
                                                 cutoff=0.6)
    if not close:
        lowered = short.lower()
        close = [n for n in names if lowered in n.lower()][:limit]
    hint = (f'closest registered names: {", ".join(close)}'
            if close else f'registered names include: {", ".join(names[:8])}')
    return (f"unknown type '{name}' in registry "
            f"'{registry.scope}::{registry.name}'; {hint}. A module from "
            "another package must be imported first, e.g. "
            "custom_imports = dict(imports=['my_package'])")


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it, outermost first (cycles cut)."""
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
    ``__context__``; the innermost one has the clean message.
    """
    found = None
    for current in _exception_chain(exc):
        if isinstance(current, PixpretrainError):
            found = current
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


_NOT_IN_REGISTRY = re.compile(
    r'(\S+) is not in the (\S+)::(\S+) registry')


def explain(exc: BaseException) -> Optional[str]:
    """A one-line explanation of an error a user can fix, else ``None``.

    Covers our own errors, wherever mmengine wrapped them or from whichever
    DataLoader worker torch re-raised them, and mmengine's
    "X is not in the scope::name registry" for builds that went through a
    root registry rather than ours.
    """
    found = find_user_error(exc)
    if found is not None:
        return _unwrap_worker_message(str(found))
    for current in _exception_chain(exc):
        match = _NOT_IN_REGISTRY.search(str(current))
        if match and isinstance(current, KeyError):
            name, _, registry_name = match.groups()
            registry = _find_registry(registry_name)
            if registry is not None:
                return unknown_type_message(registry, name)
    return None


def _find_registry(name: str) -> Optional[Registry]:
    from pixpretrain import registry as ours
    for value in vars(ours).values():
        if isinstance(value, Registry) and value.name == name:
            return value
    return None
