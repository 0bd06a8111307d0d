"""The registry floor: pixpretrain's registries, the messages about their
names, :func:`explain` for the tools, and :func:`register_all_modules`.

It imports only :mod:`pixpretrain.utils`; the floors above register into it
and are imported by name when a registry is first looked up (its
``locations``).
"""
from .explain import explain
from .messages import registered_names, unknown_type_message
from .registries import (DATA_SAMPLERS, DATASETS, EVALUATOR, HOOKS,
                         LOG_PROCESSORS, LOOPS, METRICS, MODELS,
                         OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                         OPTIMIZERS, PARAM_SCHEDULERS, RUNNERS, SCOPE,
                         STRATEGIES, TRANSFORMS,
                         TOKENIZERS, VISBACKENDS, VISUALIZERS,
                         WEIGHT_INITIALIZERS, find_registry, our_registries)
from .setup_env import register_all_modules

__all__ = [
    'SCOPE', 'RUNNERS', 'STRATEGIES', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS',
    'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS',
    'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'WEIGHT_INITIALIZERS', 'METRICS', 'EVALUATOR', 'VISUALIZERS',
    'VISBACKENDS', 'TOKENIZERS', 'explain', 'registered_names',
    'unknown_type_message', 'find_registry', 'our_registries',
    'register_all_modules'
]
