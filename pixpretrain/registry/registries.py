"""pixpretrain's registries: children of mmengine's root registries.

Every child passes ``scope='pixpretrain'`` explicitly (never guessed from the
call stack) and lists the package that registers into it in ``locations``,
so a config that names ``type='MAE'`` imports ``pixpretrain.models`` on first
use. Unknown names fail with the closest registered names (see
:func:`pixpretrain.registry.messages.unknown_type_message`). The first lookup
also imports installed plugins (see :mod:`pixpretrain.utils.plugins`).
"""
from typing import Any, Callable, List, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry, build_from_cfg

from pixpretrain.utils.errors import UnknownTypeError
from pixpretrain.utils.plugins import load_plugins
from .messages import unknown_type_message

SCOPE = 'pixpretrain'


def _suggesting(build_func: Callable) -> Callable:
    """Wrap a build function so an unknown ``type`` names its neighbours."""

    def build(cfg: Any, *args, registry: Registry, **kwargs) -> Any:
        obj_type = cfg.get('type') if isinstance(cfg, dict) else None
        if isinstance(obj_type, str) and registry.get(obj_type) is None:
            raise UnknownTypeError(unknown_type_message(registry, obj_type))
        return build_func(cfg, *args, registry=registry, **kwargs)

    return build


class _Registry(Registry):
    """A registry that, on its first lookup, also imports the installed
    ``pixpretrain.plugins`` entry points (:mod:`pixpretrain.utils.plugins`),
    so a config can name a plugin's modules without ``custom_imports``."""

    _nesting = 0  # location imports in progress, across all registries

    def import_from_location(self) -> None:
        first = not self._imported
        _Registry._nesting += 1
        try:
            super().import_from_location()
        finally:
            _Registry._nesting -= 1
        # Plugins import pixpretrain's packages: only once those are whole.
        if first and _Registry._nesting == 0:
            load_plugins()


def _child(name: str, parent: Registry, location: str,
           build_func: Optional[Callable] = None) -> Registry:
    return _Registry(
        name,
        parent=parent,
        scope=SCOPE,
        locations=[location],
        build_func=_suggesting(build_func or parent.build_func))


RUNNERS = _child('runner', MMENGINE_RUNNERS, 'pixpretrain.engine')
LOOPS = _child('loop', MMENGINE_LOOPS, 'pixpretrain.engine')
HOOKS = _child('hook', MMENGINE_HOOKS, 'pixpretrain.engine')
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS,
                        'pixpretrain.engine')
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS,
                    'pixpretrain.engine')
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS,
                        'pixpretrain.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'pixpretrain.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS,
                          'pixpretrain.engine')
# FlexibleRunner's distributed strategies (FSDP2Strategy; mmengine's DDP one).
STRATEGIES = _child('strategy', MMENGINE_STRATEGIES, 'pixpretrain.engine')

DATASETS = _child('dataset', MMENGINE_DATASETS, 'pixpretrain.datasets')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS,
                       'pixpretrain.datasets')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS,
                    'pixpretrain.datasets')

MODELS = _child('model', MMENGINE_MODELS, 'pixpretrain.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMENGINE_WEIGHT_INITIALIZERS,
                             'pixpretrain.models')

METRICS = _child('metric', MMENGINE_METRICS, 'pixpretrain.evaluation')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, 'pixpretrain.evaluation')

VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS,
                     'pixpretrain.engine')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS,
                     'pixpretrain.engine')

# Text tokenizers have no mmengine counterpart: a root registry of our own.
TOKENIZERS = _Registry(
    'tokenizer',
    scope=SCOPE,
    locations=['pixpretrain.datasets'],
    build_func=_suggesting(build_from_cfg))


def our_registries() -> List[Registry]:
    """The registries of scope ``'pixpretrain'``, in definition order."""
    return [value for value in list(globals().values())
            if isinstance(value, Registry) and value.scope == SCOPE]


def find_registry(name: str) -> Optional[Registry]:
    """The registry called ``name`` (e.g. ``'model'``) among this module's,
    else ``None``.

    mmengine's root registries are imported above ours, so a name both share
    finds the root, whose lookup reaches every child's names (ours too).

    Args:
        name: The registry's ``name``, as mmengine's messages spell it.
    """
    for value in list(globals().values()):
        if isinstance(value, Registry) and value.name == name:
            return value
    return None
