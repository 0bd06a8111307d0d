"""Every key of the config file checked against the class that will read it:
``model = dict(backbone=dict(patch_szie=16))`` is one line naming the key
and the closest one the class takes, before anything is built (building
would stop on a ``TypeError`` traceback, or a class taking ``**kwargs``
might never read it)."""
import difflib
import logging
from typing import Any, Iterator, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from pixpretrain.utils.errors import ConfigError
from .readers import (accepted_keys, closest_key_hint, registry_for,
                      registry_named, resolve_class, runner_keys)
from .signatures import required_params

#: Registries whose classes are built from their dict alone (no builder
#: arguments), so every required argument must be in the dict.
_BUILT_ALONE = ('MODELS', 'TRANSFORMS', 'DATASETS')


def check_config_keys(cfg: Config) -> None:
    """Refuse a key of a typed dict that its class does not take.

    Walks the whole config; a dict whose class is known (its ``type`` in
    the registry its place names, or mmengine's default class for the
    place) has its keys checked against that class's arguments (followed
    through ``**kwargs`` into its parents' where they pass them on, see
    :func:`.readers.accepted_keys`). Dicts of unknown classes, plain dicts
    and classes that take any key are left alone, their children walked.

    Raises:
        ConfigError: Naming the key, its class and the closest key it takes.
    """
    scope = cfg.get('default_scope')
    _warn_near_runner_keys(cfg)
    for path, node in _dicts(cfg._cfg_dict, []):
        if not path:
            continue  # the top level: the Runner's keys, checked elsewhere
        _check_required(node, path, scope)
        owner, accepted = accepted_keys(node, path, scope, cfg._cfg_dict)
        if accepted is None:
            continue
        for key in node:
            if key not in accepted:
                raise ConfigError(_unknown_key(path, key, owner, accepted))


def _check_required(node: dict, path: List[str],
                    scope: Optional[str]) -> None:
    """Refuse a model part, transform or data set dict that lacks an
    argument its class requires (their builders pass none of their own):
    mmengine would stop on a TypeError traceback when it builds it."""
    if 'type' not in node or registry_for(path) not in [
            registry_named(name) for name in _BUILT_ALONE]:
        return
    cls = resolve_class(node, path, scope)
    missing = [name for name in (required_params(cls) if cls else ())
               if name not in node]
    if missing:
        where = '.'.join(path)
        raise ConfigError(
            f"{where}: {cls.__name__} needs {', '.join(missing)}: add "
            f"{where}.{missing[0]}=... (or in the config file)")


def _warn_near_runner_keys(cfg: Config) -> None:
    """A top-level name the Runner does not read may be a variable of the
    file (``train_pipeline``), so it is not refused; one a letter or two
    from a key the Runner reads (``resum``, ``load_frm``) gets a warning."""
    keys = sorted(runner_keys())
    for name in cfg.keys():
        close = [] if name in keys else difflib.get_close_matches(
            name, keys, n=1, cutoff=0.9)
        if close:
            print_log(f"config key '{name}' is read by nothing: did you "
                      f"mean '{close[0]}'? (rename it if it is a variable "
                      'of the file)', logger='current',
                      level=logging.WARNING)


def _dicts(node: Any, path: List[str]) -> Iterator[Tuple[List[str], dict]]:
    """Every dict in ``node`` with its key path, parents first."""
    if isinstance(node, dict):
        yield path, node
        children: Any = node.items()
    elif isinstance(node, (list, tuple)):
        children = ((str(i), v) for i, v in enumerate(node))
    else:
        return
    for name, child in children:
        yield from _dicts(child, path + [str(name)])


def _unknown_key(path: List[str], key: str, owner: str,
                 accepted: set) -> str:
    where = '.'.join(path)
    names = sorted(set(accepted) - {'type', '_scope_'})
    hint = closest_key_hint(where, key, names, owner)
    return (f"{where}.{key}: {owner} takes no option '{key}', so it would "
            f'stop the build or be ignored; {hint}')
