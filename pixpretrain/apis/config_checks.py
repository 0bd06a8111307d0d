"""Checks that turn a mistyped path, key or value into one line before
anything is built: the config file, ``--cfg-options`` keys, the values
training needs, and the checkpoint ``--resume`` / ``load_from`` names."""
import difflib
import inspect
import os
import os.path as osp
import sys
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.registry import Registry

from pixpretrain.registry import unknown_type_message
from pixpretrain.utils.errors import (CheckpointError, ConfigError,
                                      PathNotFoundError, UnknownTypeError,
                                      bad_value)
from pixpretrain.utils.fileio import last_checkpoint

# Top-level keys the Runner reads besides its constructor's arguments
# (Runner.from_cfg, Runner.wrap_model, tools/train.py, apply_compile_fallback).
_RUNNER_EXTRA_KEYS = frozenset({
    'work_dir', 'launcher', 'default_scope', 'runner_type',
    'model_wrapper_cfg', 'compile', 'tta_model', 'tta_pipeline'
})

# Keys of the Runner's dicts that have no ``type`` (Runner.setup_env,
# Runner.set_randomness, Runner.scale_lr).
_PLAIN_DICT_KEYS = {
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
    'randomness': {'seed', 'deterministic', 'diff_rank_seed'},
    'auto_scale_lr': {'enable', 'base_batch_size'},
}

# The registry a ``type`` under each key is looked up in; the nearest such
# key above a dict decides (``model.backbone.init_cfg`` -> initializers).
_REGISTRY_OF_KEY = {
    'model': 'MODELS', 'norm_cfg': 'MODELS', 'act_cfg': 'MODELS',
    'init_cfg': 'WEIGHT_INITIALIZERS', 'dataset': 'DATASETS',
    'pipeline': 'TRANSFORMS', 'sampler': 'DATA_SAMPLERS',
    'batch_sampler': 'DATA_SAMPLERS', 'train_cfg': 'LOOPS',
    'val_cfg': 'LOOPS', 'test_cfg': 'LOOPS', 'default_hooks': 'HOOKS',
    'custom_hooks': 'HOOKS', 'optim_wrapper': 'OPTIM_WRAPPERS',
    'optimizer': 'OPTIMIZERS', 'param_scheduler': 'PARAM_SCHEDULERS',
    'visualizer': 'VISUALIZERS', 'vis_backends': 'VISBACKENDS',
    'log_processor': 'LOG_PROCESSORS', 'val_evaluator': 'METRICS',
    'test_evaluator': 'METRICS'
}

# The classes mmengine uses for dicts without ``type`` (Runner.build_*_loop,
# Runner.register_default_hooks, Runner.build_optim_wrapper).
_DEFAULT_TYPES = {
    'val_cfg': ('LOOPS', 'ValLoop'), 'test_cfg': ('LOOPS', 'TestLoop'),
    'log_processor': ('LOG_PROCESSORS', 'LogProcessor'),
    'optim_wrapper': ('OPTIM_WRAPPERS', 'OptimWrapper'),
    'default_hooks.runtime_info': ('HOOKS', 'RuntimeInfoHook'),
    'default_hooks.timer': ('HOOKS', 'IterTimerHook'),
    'default_hooks.sampler_seed': ('HOOKS', 'DistSamplerSeedHook'),
    'default_hooks.logger': ('HOOKS', 'LoggerHook'),
    'default_hooks.param_scheduler': ('HOOKS', 'ParamSchedulerHook'),
    'default_hooks.checkpoint': ('HOOKS', 'CheckpointHook'),
}

# Read by the optimizer wrapper constructor, not the wrapper class.
_OPTIM_WRAPPER_EXTRA_KEYS = {'optimizer', 'paramwise_cfg', 'constructor'}
# Read by Runner.build_dataloader before the rest goes to torch's DataLoader.
_DATALOADER_EXTRA_KEYS = {'num_batch_per_epoch', 'type'}

# Parts an algorithm uses unconditionally though its signature hides it
# behind **kwargs or a None default: class name -> model keys.
_REQUIRED_PARTS = {
    'BasePretrainer': ('backbone', 'head'),
    'MAE': ('neck',),
    'MoCo': ('neck',),
}
_MODULE_PARTS = ('backbone', 'neck', 'head', 'text_backbone',
                 'data_preprocessor')


def load_config(path: str, options: Optional[Dict[str, Any]] = None
                ) -> Config:
    """The config at ``path`` with ``--cfg-options`` merged, refusing a
    missing file and option keys that would be ignored or break a build.

    Args:
        path: The config file.
        options: ``--cfg-options`` as parsed by mmengine's ``DictAction``.

    Returns:
        Config: The merged config.

    Raises:
        PathNotFoundError: ``path`` does not exist (naming close file names).
        ConfigError: An option key exists nowhere and nothing would read it,
            naming the closest existing key.
    """
    if not osp.isfile(path):
        raise PathNotFoundError(
            f"config file '{path}' does not exist; "
            f'{_closest_file_hint(path)}')
    cfg = _read_config_file(path)
    if options:
        check_cfg_options(cfg, options)
        cfg.merge_from_dict(options)
    return cfg


def _read_config_file(path: str) -> Config:
    """``Config.fromfile``, its failures (Python errors in the file or a
    ``_base_`` file, a missing ``_base_``) turned into one line naming the
    file and the line."""
    try:
        return Config.fromfile(path)
    except SyntaxError as exc:
        # mmengine parses the text without naming the file ('<unknown>').
        named = exc.filename if exc.filename and osp.isfile(
            exc.filename) else path
        where = f"'{named}', line {exc.lineno}"
        raise ConfigError(f'config file {where}: {exc.msg}; fix the Python '
                          'syntax there') from None
    except FileNotFoundError as exc:
        missing = exc.filename or str(exc)
        raise PathNotFoundError(
            f"config file '{path}' names '{missing}' (in _base_ or "
            'read_base), which does not exist; fix the path, relative to '
            'the file that names it') from None
    except Exception as exc:  # noqa: BLE001 -- code in a config can raise
        first = str(exc).strip().splitlines()
        raise ConfigError(
            f"config file '{path}' could not be read: "
            f'{type(exc).__name__}: {first[0] if first else ""}; fix the '
            'file (variables and {{_base_.name}} references must exist)'
        ) from None


def _closest_file_hint(path: str) -> str:
    """'did you mean X?' from the file names beside ``path``, or a hint."""
    folder = osp.dirname(path) or '.'
    if not osp.isdir(folder):
        return f"its folder '{folder}' does not exist either; check the path"
    names = [n for n in os.listdir(folder) if n.endswith('.py')]
    close = difflib.get_close_matches(osp.basename(path), names, n=1,
                                      cutoff=0.6)
    if close:
        return f"did you mean '{osp.join(osp.dirname(path), close[0])}'?"
    return 'check the path'


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
    if missing is None or missing == 0:
        return  # the key exists, or is a top-level key the Runner reads
    parent_path = key.split('.')[:missing]
    name = key.split('.')[missing]
    merged_parent = _walk(merged._cfg_dict, parent_path)
    owner, accepted = accepted_keys(merged_parent, parent_path,
                                    merged.get('default_scope'))
    if accepted is None or name in accepted:
        return
    siblings = sorted((set(accepted) | set(parent)) - {'type', '_scope_'})
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    path = '.'.join(parent_path)
    hint = (f'did you mean {path}.{close[0]}?' if close else
            f'{path} takes: {", ".join(siblings)}')
    raise ConfigError(f"{shown}: {path} has no key '{name}' and {owner} "
                      f'takes none of that name; {hint}')


def _walk(root: Any, parts: List[str]) -> Any:
    node = root
    for part in parts:
        node = _child(node, part)
    return node


def runner_keys() -> Set[str]:
    """Top-level keys the Runner reads (its constructor's arguments, as
    ``Runner.from_cfg`` passes them, and a few it reads itself)."""
    from mmengine.runner import Runner
    params = set(inspect.signature(Runner.__init__).parameters)
    return (params - {'self', 'cfg'}) | _RUNNER_EXTRA_KEYS


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


def _registry(name: str) -> Registry:
    from pixpretrain import registry
    return getattr(registry, name)


def _registry_for(path: List[str]) -> Optional[Registry]:
    for part in reversed(path):
        if part in _REGISTRY_OF_KEY:
            return _registry(_REGISTRY_OF_KEY[part])
    return None


def _resolve_class(node: Dict, path: List[str], default_scope: Optional[str]
                   ) -> Optional[type]:
    """The class the dict at ``path`` builds, or None where unknown."""
    obj_type = node.get('type')
    if obj_type is None:
        if path == ['train_cfg']:
            from mmengine.runner import (EpochBasedTrainLoop,
                                         IterBasedTrainLoop)
            return (EpochBasedTrainLoop
                    if node.get('by_epoch') else IterBasedTrainLoop)
        default = _DEFAULT_TYPES.get('.'.join(path))
        if default is None:
            return None
        registry_name, obj_type = default
        registry = _registry(registry_name)
    else:
        registry = _registry_for(path)
    if not isinstance(obj_type, str):
        return obj_type if inspect.isclass(obj_type) else None
    if registry is None:
        return None
    found = None
    if default_scope and '.' not in obj_type and \
            default_scope != registry.scope:
        # Another package's scope: its registry first, as the Runner does.
        found = registry.get(f'{default_scope}.{obj_type}')
    found = found or registry.get(obj_type)
    return found if inspect.isclass(found) else None


def accepted_keys(node: Any, path: List[str], default_scope: Optional[str]
                  ) -> Tuple[str, Optional[Set[str]]]:
    """Who reads the dict at ``path``, and the keys it takes (None: any).

    Args:
        node: The dict (or list) at ``path``, options merged.
        path: Its key path.
        default_scope: The config's ``default_scope``.

    Returns:
        (what reads it, e.g. 'VisionTransformer', the keys it accepts or
        ``None`` when it takes any: ``**kwargs``, a plain dict passed on
        whole such as ``arch`` or ``paramwise_cfg``, or a type no registry
        here knows).
    """
    dotted = '.'.join(path)
    if not isinstance(node, dict):
        return dotted, None
    if dotted in _PLAIN_DICT_KEYS:
        return dotted, _PLAIN_DICT_KEYS[dotted]
    if dotted == 'default_hooks':
        return dotted, None  # new hooks are new names
    if path[-1].endswith('dataloader') and 'type' not in node:
        from torch.utils.data import DataLoader
        return 'DataLoader', (_init_params(DataLoader) or set()) | \
            _DATALOADER_EXTRA_KEYS
    cls = _resolve_class(node, path, default_scope)
    if cls is None:
        return dotted, None
    params = _init_params(cls)
    if params is None:
        return cls.__name__, None
    params |= {'type', '_scope_'}
    if path == ['optim_wrapper']:
        params |= _OPTIM_WRAPPER_EXTRA_KEYS
    return cls.__name__, params


def _init_params(cls: type) -> Optional[Set[str]]:
    """The keyword arguments ``cls(...)`` takes; None for ``**kwargs`` or an
    unreadable signature."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    params = signature.parameters.values()
    if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params):
        return None
    return {p.name for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_train_values(cfg: Config) -> None:
    """Refuse, before anything is built, values training cannot use.

    Args:
        cfg: The training config, options merged.

    Raises:
        ConfigError: Naming the key, the value and what it must be.
        UnknownTypeError: The optimizer type is registered nowhere.
    """
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer')
    if isinstance(optimizer, dict):
        lr = optimizer.get('lr')
        if lr is not None and not _positive_number(lr):
            raise bad_value('optim_wrapper.optimizer.lr', lr,
                            'must be a positive number (allowed: lr > 0, '
                            'e.g. 1.5e-4)')
        opt_type = optimizer.get('type')
        registry = _registry('OPTIMIZERS')
        if isinstance(opt_type, str) and registry.get(opt_type) is None:
            raise UnknownTypeError(
                'optim_wrapper.optimizer.type: ' +
                unknown_type_message(registry, opt_type))
    for path, loader in _dataloaders(cfg._cfg_dict):
        size = loader.get('batch_size')
        if size is not None and not _positive_int(size):
            raise bad_value(f'{path}.batch_size', size,
                            'must be a positive integer (allowed: '
                            'batch_size >= 1)')
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_iters', 'max_epochs', 'val_interval'):
        value = train_cfg.get(key)
        if value is not None and not _positive_int(value):
            raise bad_value(f'train_cfg.{key}', value,
                            f'must be a positive integer (allowed: {key} '
                            '>= 1)')
    val_begin = train_cfg.get('val_begin')
    if val_begin is not None and not (_is_int(val_begin) and val_begin >= 0):
        raise bad_value('train_cfg.val_begin', val_begin,
                        'must be a non-negative integer (allowed: '
                        'val_begin >= 0)')
    check_model_parts(cfg)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _is_int(value) and value >= 1


def _positive_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and value > 0 and value == value and value != float('inf'))


def _dataloaders(node: Any, prefix: str = ''
                 ) -> Iterator[Tuple[str, Dict]]:
    """(path, dict) of every ``*dataloader`` dict, nested ones included
    (``val_cfg.bank_dataloader``)."""
    if not isinstance(node, dict):
        return
    for name, child in node.items():
        path = f'{prefix}{name}'
        if isinstance(child, dict):
            if name.endswith('dataloader'):
                yield path, child
            yield from _dataloaders(child, path + '.')


def check_model_parts(cfg: Config) -> None:
    """Refuse a model whose algorithm lacks a part it needs, or a part
    given as a dict without ``type``.

    Args:
        cfg: The config, options merged.

    Raises:
        ConfigError: Naming ``model.<part>`` and how to fix it.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    cls = _resolve_class(model, ['model'], cfg.get('default_scope'))
    for part in _MODULE_PARTS:
        value = model.get(part)
        if isinstance(value, dict) and 'type' not in value:
            # BasePretrainer reads a head dict without type as named heads.
            named = part == 'head' and value and all(
                isinstance(h, dict) and 'type' in h for h in value.values())
            if not named:
                raise ConfigError(
                    f'model.{part} has no type (keys: '
                    f'{", ".join(sorted(value)) or "none"}): name its class, '
                    f"e.g. model.{part}.type=<registered name>, or give "
                    f'{part} = dict(_delete_=True, type=..., ...) in the '
                    'config')
    if cls is None:
        return
    required = set()
    for base in cls.__mro__:
        required.update(_REQUIRED_PARTS.get(base.__name__, ()))
    if _init_params(cls) is not None:
        # Parts without a default are required (MoCo's neck).
        signature = inspect.signature(cls).parameters
        required.update(name for name in _MODULE_PARTS if name in signature
                        and signature[name].default is inspect.Parameter.empty)
    for part in sorted(required):
        if model.get(part) is None:
            raise ConfigError(
                f'model.{part} is missing: {cls.__name__} needs a {part}; '
                f'remove the option that set it to None, or give '
                f'model.{part} = dict(type=...) as in the configs/ recipes')


def check_resume(cfg: Config, resume: Optional[str] = None) -> None:
    """Refuse a checkpoint path that is missing or cannot be resumed from,
    before the Runner starts; warn when auto-resume finds nothing.

    With ``resume = True`` and no ``load_from`` (``--resume`` alone) and no
    ``last_checkpoint`` in the work dir, the run starts from scratch: one
    warning line says so, and ``cfg.resume`` turns off so mmengine does not
    log "Auto resumed from the latest checkpoint None".

    Args:
        cfg: The config, ``work_dir`` set.
        resume: ``--resume``: 'auto', a path or None (naming the flag in
            messages).

    Raises:
        PathNotFoundError: The checkpoint, or the one ``last_checkpoint``
            names, does not exist.
        CheckpointError: ``--resume`` names weights without a training state
            (``meta``), e.g. a converted model.
    """
    load_from = cfg.get('load_from')
    flag = (f"--resume '{load_from}'" if resume not in (None, 'auto') else
            f"load_from = '{load_from}'")
    if cfg.get('resume') and load_from is None:
        pointed = last_checkpoint(cfg.work_dir)
        if pointed is None:
            cfg.resume = False
            if _is_rank_zero():
                print(f"warning: nothing to resume in '{cfg.work_dir}' (no "
                      'last_checkpoint there): training starts from '
                      'scratch; pass --resume PATH to resume a checkpoint '
                      'elsewhere', file=sys.stderr)
        elif _is_local(pointed) and not osp.isfile(pointed):
            raise PathNotFoundError(
                f"'{cfg.work_dir}/last_checkpoint' names '{pointed}', which "
                'does not exist; pass --resume PATH with a checkpoint that '
                'does, or delete last_checkpoint to start from scratch')
        return
    if not isinstance(load_from, str) or not _is_local(load_from):
        return
    path = osp.expanduser(load_from)
    if not osp.isfile(path):
        fix = ('check the path, or pass --resume alone to continue from the '
               "work dir's last checkpoint" if flag.startswith('--') else
               'check the path, or set load_from=None to start from scratch')
        raise PathNotFoundError(f'{flag}: no such file; {fix}')
    if cfg.get('resume'):
        from pixpretrain.utils.checkpoint import safe_load
        checkpoint = safe_load(path, map_location='cpu')
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        if not (isinstance(meta, dict) and 'epoch' in meta
                and 'iter' in meta):
            raise CheckpointError(
                f'{flag}: the file holds weights only (no training state to '
                'resume: epoch, iteration, optimizer); to start a new run '
                f"from these weights use --cfg-options load_from='{path}' "
                'instead of --resume')


def _is_local(path: str) -> bool:
    return '://' not in path


def _is_rank_zero() -> bool:
    """Rank 0 or no launcher, read from the environment: the process group
    does not exist yet."""
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    return rank == '0'
