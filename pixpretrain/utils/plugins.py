"""Installed packages that extend pixpretrain, found by entry point.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."pixpretrain.plugins"]
    my_plugin = "my_package.pixpretrain_modules"

and importing that module registers its classes into pixpretrain's
registries. pixpretrain imports every such module the first time one of its
registries resolves a name (so ``pip install`` is enough for a config to use
the modules by name), and again whenever
:func:`pixpretrain.registry.register_all_modules` runs,
which picks up packages installed since. A plugin that fails to import is
reported in one warning naming it and the error, and never stops a run that
does not use it. ``PIXPRETRAIN_PLUGINS=0`` in the environment turns the
mechanism off.
"""
import os
import threading
import warnings
from importlib import metadata
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

from mmengine.logging import print_log

ENTRY_POINT_GROUP = 'pixpretrain.plugins'
DISABLE_VARIABLE = 'PIXPRETRAIN_PLUGINS'


class PluginWarning(UserWarning):
    """An installed plugin could not be loaded."""


class Plugin(NamedTuple):
    """One ``pixpretrain.plugins`` entry point and what loading it did.

    Attributes:
        name: The entry point's name.
        value: What it points at, ``module`` or ``module:callable``.
        distribution: The installed package declaring it.
        version: That package's version.
        error: ``None`` once loaded; else ``"ExceptionType: message"``.
    """
    name: str
    value: str
    distribution: str
    version: str
    error: Optional[str] = None

    @property
    def module(self) -> str:
        return self.value.split(':')[0].strip()


_records: Dict[Tuple[str, str], Plugin] = {}
_lock = threading.RLock()
_loading = False


def plugins_enabled() -> bool:
    return os.environ.get(DISABLE_VARIABLE, '1').strip().lower() not in (
        '0', 'false', 'no', 'off')


def _entry_points() -> Iterator[Tuple[str, str, metadata.EntryPoint]]:
    """(distribution, version, entry point), first of each distribution on
    ``sys.path`` only, as Python's own import would see it."""
    seen = set()
    for dist in metadata.distributions():
        name = dist.metadata['Name'] or '?'
        key = name.lower().replace('_', '-')
        if key in seen:
            continue
        seen.add(key)
        for entry_point in dist.entry_points:
            if entry_point.group == ENTRY_POINT_GROUP:
                yield name, dist.version, entry_point


def _load(entry_point: metadata.EntryPoint) -> None:
    loaded = entry_point.load()
    # A 'module:callable' entry point registers when called.
    if ':' in entry_point.value and callable(loaded):
        loaded()


def load_plugins() -> List[Plugin]:
    """Import every installed plugin not imported yet; never raises.

    Idempotent: each entry point is tried once per process, and a failure
    warns once.

    Returns:
        Every plugin seen so far, loaded or failed.
    """
    global _loading
    if not plugins_enabled():
        return []
    with _lock:
        # A plugin that builds while it is imported lands here again.
        if _loading:
            return list(_records.values())
        _loading = True
        try:
            for dist, version, entry_point in _entry_points():
                key = (dist, entry_point.name)
                if key in _records:
                    continue
                plugin = Plugin(entry_point.name, entry_point.value, dist,
                                version)
                try:
                    _load(entry_point)
                except Exception as exc:  # noqa: BLE001 -- never crash a run
                    error = f'{type(exc).__name__}: {exc}'.splitlines()[0]
                    plugin = plugin._replace(error=error)
                    warnings.warn(
                        f"pixpretrain plugin '{plugin.name}' "
                        f'({plugin.value}) from {dist} {version} was not '
                        f'loaded: {error}. Its modules are unavailable; '
                        'runs that do not use them are unaffected.',
                        PluginWarning, stacklevel=2)
                else:
                    print_log(
                        f"loaded pixpretrain plugin '{plugin.name}' "
                        f'({plugin.value}) from {dist} {version}',
                        logger='current')
                _records[key] = plugin
        finally:
            _loading = False
        return list(_records.values())


def loaded_plugins() -> List[Plugin]:
    """The plugins :func:`load_plugins` has tried so far."""
    with _lock:
        return list(_records.values())
