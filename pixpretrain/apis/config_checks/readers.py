"""Who reads each key of a config: the Runner's own keys, the keys of its
plain dicts, and the class a dict's ``type`` (or mmengine's default for a
dict without one) builds, with the arguments that class takes."""
import difflib
import inspect
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from mmengine.registry import Registry

from .signatures import inherited_init_params, init_params

# Top-level keys the Runner reads besides its constructor's arguments
# (Runner.from_cfg, Runner.wrap_model, tools/train.py, apply_compile_fallback).
_RUNNER_EXTRA_KEYS = frozenset({
    'work_dir', 'launcher', 'default_scope', 'runner_type',
    'model_wrapper_cfg', 'compile', 'tta_model', 'tta_pipeline',
    'schedule_follows_loop',  # pixpretrain.apis.schedule_length
    'strategy'  # FlexibleRunner's (pixpretrain.apis.strategy)
})

# Keys of the Runner's dicts that have no ``type`` (Runner.setup_env,
# Runner.set_randomness, Runner.scale_lr).
_PLAIN_DICT_KEYS = {
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit',
                'torch_threads'},  # the last: pixpretrain.apis.threads
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
# Read by the Runner's builders from a part's dict before its class is built
# (Runner.register_hook, the strategies' _build_param_scheduler).
_BUILDER_KEYS = {
    'custom_hooks': {'priority'}, 'default_hooks': {'priority'},
    'param_scheduler': {'convert_to_iter_based'},
    # mmengine.model.weight_init.initialize: an initializer's override, and
    # the submodule an override names
    'init_cfg': {'override'}, 'override': {'name'},
}

def runner_keys() -> Set[str]:
    """Top-level keys the Runner reads (its constructor's arguments, as
    ``Runner.from_cfg`` passes them, and a few it reads itself)."""
    from mmengine.runner import Runner
    params = set(inspect.signature(Runner.__init__).parameters)
    return (params - {'self', 'cfg'}) | _RUNNER_EXTRA_KEYS


def registry_named(name: str) -> Registry:
    from pixpretrain import registry
    return getattr(registry, name)


def registry_for(path: List[str]) -> Optional[Registry]:
    for part in reversed(path):
        if part in _REGISTRY_OF_KEY:
            return registry_named(_REGISTRY_OF_KEY[part])
    return None


def resolve_class(node: Dict, path: List[str], default_scope: Optional[str]
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
        registry = registry_named(registry_name)
    else:
        registry = registry_for(path)
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


def accepted_keys(node: Any, path: List[str], default_scope: Optional[str],
                  root: Optional[Dict] = None
                  ) -> Tuple[str, Optional[Set[str]]]:
    """Who reads the dict at ``path``, and the keys it takes (None: any).

    Args:
        node: The dict (or list) at ``path``, options merged.
        path: Its key path.
        default_scope: The config's ``default_scope``.
        root: The whole config, for a dict whose reader another key names
            (``optim_wrapper.constructor`` reads ``paramwise_cfg``).

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
    if dotted == 'optim_wrapper.paramwise_cfg':
        return _paramwise_keys((root or {}).get('optim_wrapper') or {})
    if dotted == 'default_hooks':
        return dotted, None  # new hooks are new names
    if path[-1].endswith('dataloader') and 'type' not in node:
        from torch.utils.data import DataLoader
        return 'DataLoader', (init_params(DataLoader) or set()) | \
            _DATALOADER_EXTRA_KEYS
    cls = resolve_class(node, path, default_scope)
    if cls is None:
        return dotted, None
    if path == ['optim_wrapper'] and 'optimizer' not in node:
        return dotted, None  # one wrapper per part (an OptimWrapperDict)
    params = inherited_init_params(cls, trusted='pixpretrain.')
    if params is None:
        return cls.__name__, None
    params |= {'type', '_scope_'}
    if path == ['optim_wrapper']:
        params |= _OPTIM_WRAPPER_EXTRA_KEYS
    if path == ['train_cfg'] and 'type' not in node:
        params.add('by_epoch')  # Runner.build_train_loop picks the loop by it
    params |= _BUILDER_KEYS.get(_builder_of(path), set())
    return cls.__name__, params


# What mmengine's DefaultOptimWrapperConstructor reads from paramwise_cfg;
# a subclass says what it reads in a ``paramwise_keys`` class attribute.
_DEFAULT_PARAMWISE_KEYS = frozenset({
    'custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult',
    'dwconv_decay_mult', 'flat_decay_mult', 'dcn_offset_lr_mult',
    'bypass_duplicate'})


def _paramwise_keys(wrapper: Dict) -> Tuple[str, Optional[Set[str]]]:
    """The keys the optimizer wrapper's constructor reads from
    ``paramwise_cfg`` (None for a constructor that does not say)."""
    from mmengine.optim import DefaultOptimWrapperConstructor
    name = wrapper.get('constructor', 'DefaultOptimWrapperConstructor')
    registry = registry_named('OPTIM_WRAPPER_CONSTRUCTORS')
    cls = registry.get(name) if isinstance(name, str) else name
    if cls is DefaultOptimWrapperConstructor:
        keys = _DEFAULT_PARAMWISE_KEYS
    else:  # a class says its own (not inherited: a subclass may read more)
        keys = vars(cls).get('paramwise_keys') if isinstance(cls, type) \
            else None
    where = f'{getattr(cls, "__name__", name)} (optim_wrapper.constructor)'
    return where, None if keys is None else set(keys)


def _builder_of(path: List[str]) -> str:
    """The key of :data:`_BUILDER_KEYS` whose builder reads the dict at
    ``path``: the top-level part, or the nearest initializer above."""
    for i in range(len(path) - 1, -1, -1):
        if path[i] in ('init_cfg', 'override'):
            return 'override' if 'override' in path[i:] else 'init_cfg'
    return path[0]


def closest_key_hint(where: str, key: str, names: List[str],
                     who: str) -> str:
    """'did you mean ``where``.X?' for the name of ``names`` closest to
    ``key``; else '``who`` takes: ...' listing them all."""
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return (f'did you mean {where}.{close[0]}?' if close else
            f'{who} takes: {", ".join(names)}')


def pipeline_step_dicts(steps: Any) -> Iterator[dict]:
    """The transform dicts of a pipeline config, depth first, those nested
    in a wrapper's ``transforms`` (one list, or one per view) included."""
    if isinstance(steps, dict):
        yield steps
        steps = steps.get('transforms')
    if isinstance(steps, (list, tuple)):
        for step in steps:
            yield from pipeline_step_dicts(step)
