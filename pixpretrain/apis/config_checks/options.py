"""``--cfg-options`` keys checked against what reads them: a key nothing
would read is refused with the closest existing key."""
import difflib
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict

from pixpretrain.utils.errors import ConfigError
from .readers import accepted_keys, closest_key_hint, runner_keys


def check_cfg_options(cfg: Config, options: Dict[str, Any]) -> None:
    """Refuse ``--cfg-options`` keys that nothing would read.

    A key that exists in the config is fine, unless it is a top-level
    variable the file uses only while it loads (``max_iters = 600`` feeding
    ``train_cfg``): overriding that changes nothing. A new key is fine when
    something reads it: a top-level key the Runner reads, a key of the
    Runner's plain dicts, or an argument of the class its parent dict's
    ``type`` names (any key when that class takes ``**kwargs`` or cannot be
    resolved); below a new key, anything goes. A ``None`` on the way to an
    option (``init_cfg = None``) becomes an empty dict, as if absent.

    Args:
        cfg: The loaded config, options not merged yet (modified only to
            turn such ``None`` values into dicts).
        options: Dotted keys to values, as ``DictAction`` parses them.

    Raises:
        ConfigError: Naming the option and the closest existing key.
    """
    # Resolve types in the config as it will be, options included, so that
    # ``model.backbone.type=X model.backbone.y=1`` checks ``y`` against X.
    merged = Config(cfg.to_dict())
    for key in options:
        _none_to_dict(cfg, key)
        _none_to_dict(merged, key)
    merged.merge_from_dict(_without_out_of_range(merged, options))
    for key, value in options.items():
        _check_option(cfg, merged, key, value)


def _none_to_dict(cfg: Config, key: str) -> None:
    node: Any = cfg._cfg_dict
    parts = key.split('.')
    for part in parts[:-1]:
        child = _child(node, part)
        if child is _MISSING:
            return
        if child is None and isinstance(node, dict):
            node[part] = ConfigDict()
            child = node[part]
        node = child


_MISSING = object()


def _child(node: Any, part: str) -> Any:
    """``node[part]`` for a dict, ``node[int(part)]`` for a list, else
    ``_MISSING``."""
    if isinstance(node, dict):
        return node.get(part, _MISSING)
    if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit():
        index = int(part)
        return node[index] if -len(node) <= index < len(node) else _MISSING
    return _MISSING


def _without_out_of_range(cfg: Config, options: Dict[str, Any]
                          ) -> Dict[str, Any]:
    """The options that can be merged (the others are refused later with
    a message, not by mmengine's merge)."""
    return {k: v for k, v in options.items()
            if _first_missing(cfg._cfg_dict, k)[2] is None}


def _first_missing(root: Any, key: str
                   ) -> Tuple[Optional[int], Any, Optional[str]]:
    """Walk ``key``: (index of its first part missing from the config, None
    when it exists; the node above it; why the walk cannot go on, None when
    a merge could add it)."""
    parts = key.split('.')
    node = root
    for i, part in enumerate(parts):
        child = _child(node, part)
        if child is not _MISSING:
            node = child
            continue
        above = '.'.join(parts[:i])
        if isinstance(node, (list, tuple)):
            return i, node, (f'{above} has {len(node)} entries, so there is '
                             f'no entry {part}; add it in the config file')
        if not isinstance(node, dict):
            return i, node, (f'{above} is {node!r}, not a dict; set {above} '
                             'itself')
        return i, node, None
    return None, node, None


def _check_option(cfg: Config, merged: Config, key: str, value: Any) -> None:
    """Refuse one option key (see :func:`check_cfg_options`)."""
    shown = f'--cfg-options {key}={value}'
    top = key.split('.')[0]
    if top not in runner_keys():
        why = (f"'{top}' is a variable of the config file, read only while "
               'the file loads, so overriding it changes nothing'
               if top in cfg else f"the config has no key '{top}' and the "
               'Runner reads no such key')
        raise ConfigError(f'{shown}: {why}; {_suggest(cfg, key)}')
    missing, parent, broken = _first_missing(cfg._cfg_dict, key)
    if broken is not None:
        raise ConfigError(f'{shown}: {broken}')
    if any(isinstance(v, str) and v.replace(' ', '').startswith('dict(')
           for v in (value if isinstance(value, (list, tuple)) else
                     [value])):
        # DictAction has no dict syntax: the part would become a string
        one = f'{key}.0' if isinstance(value, (list, tuple)) else key
        raise ConfigError(
            f'{shown}: --cfg-options cannot give a dict; set its keys one '
            f'by one, e.g. {one}.type=..., or edit the config file')
    if missing is None or missing == 0:
        return  # the key exists, or is a top-level key the Runner reads
    parent_path = key.split('.')[:missing]
    name = key.split('.')[missing]
    merged_parent = _walk(merged._cfg_dict, parent_path)
    owner, accepted = accepted_keys(merged_parent, parent_path,
                                    merged.get('default_scope'),
                                    merged._cfg_dict)
    if accepted is None or name in accepted:
        return
    siblings = sorted((set(accepted) | set(parent)) - {'type', '_scope_'})
    path = '.'.join(parent_path)
    hint = closest_key_hint(path, name, siblings, path)
    raise ConfigError(f"{shown}: {path} has no key '{name}' and {owner} "
                      f'takes none of that name; {hint}')


def _walk(root: Any, parts: List[str]) -> Any:
    node = root
    for part in parts:
        node = _child(node, part)
    return node


def _flat_keys(node: Any, prefix: str = '') -> Iterator[str]:
    """Every dotted key path in ``node``, list indices included."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return
    for name, child in items:
        path = f'{prefix}{name}'
        yield path
        yield from _flat_keys(child, path + '.')


def _suggest(cfg: Config, key: str) -> str:
    """'did you mean X?' naming the existing key closest to ``key``, one
    the Runner reads (not a file-time variable)."""
    readable = runner_keys()
    paths = [p for p in _flat_keys(cfg._cfg_dict)
             if p.split('.')[0] in readable]
    # A known tail wins: ``optimizer.lr`` -> ``optim_wrapper.optimizer.lr``.
    tails = [p for p in paths if p.endswith('.' + key)]
    if tails:
        return f'did you mean {min(tails, key=len)}?'
    close = difflib.get_close_matches(key, paths, n=1, cutoff=0.6)
    if not close:
        leaf = key.split('.')[-1]
        leaves = {p.split('.')[-1] for p in paths}
        near = difflib.get_close_matches(leaf, sorted(leaves), n=1,
                                         cutoff=0.7)
        if near:
            ends = [p for p in paths if p.split('.')[-1] == near[0]]
            close = difflib.get_close_matches(key, ends, n=1, cutoff=0) or \
                ends[:1]
    if close:
        return f'did you mean {close[0]}?'
    return ('top-level keys the Runner reads: '
            f'{", ".join(sorted(k for k in readable if k in cfg))}')
