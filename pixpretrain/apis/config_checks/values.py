"""Values a training config needs: a positive lr, batch sizes and lengths,
a registered optimizer, and the model parts its algorithm uses."""
import inspect
from typing import Any, Dict, Iterator, Tuple

from mmengine.config import Config

from pixpretrain.registry import unknown_type_message
from pixpretrain.utils.errors import ConfigError, UnknownTypeError, bad_value
from .readers import registry_named, resolve_class
from .signatures import init_params

_MODULE_PARTS = ('backbone', 'neck', 'head', 'text_backbone',
                 'data_preprocessor')


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
        registry = registry_named('OPTIMIZERS')
        if isinstance(opt_type, str) and registry.get(opt_type) is None:
            raise UnknownTypeError(
                'optim_wrapper.optimizer.type: ' +
                unknown_type_message(registry, opt_type))
        _check_optimizer_settings(optimizer, registry.get(opt_type) if
                                  isinstance(opt_type, str) else opt_type)
    for path, loader in _dataloaders(cfg._cfg_dict):
        size = loader.get('batch_size')
        if size is not None and not _positive_int(size):
            raise bad_value(f'{path}.batch_size', size,
                            'must be a positive integer (allowed: '
                            'batch_size >= 1)')
        workers = loader.get('num_workers')
        if workers is not None and not (_is_int(workers) and workers >= 0):
            raise bad_value(f'{path}.num_workers', workers,
                            'must be a non-negative integer (allowed: 0 to '
                            'load in the training process, or more)')
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


def _check_optimizer_settings(optimizer: Dict, cls: Any) -> None:
    """Build a torch optimizer over one tensor with the config's settings,
    so torch's own checks (betas in [0, 1), weight_decay >= 0, eps >= 0
    ...) speak before training instead of at the optimizer's build."""
    if not inspect.isclass(cls) or not cls.__module__.startswith(
            'torch.optim'):
        return
    import torch
    settings = {k: v for k, v in optimizer.items()
                if k not in ('type', '_scope_')}
    try:
        cls([torch.nn.Parameter(torch.zeros(1))], **settings)
    except (ValueError, TypeError, RuntimeError) as error:
        raise ConfigError(f'optim_wrapper.optimizer ({cls.__name__}): '
                          f'{error}; fix that setting') from None


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
    cls = resolve_class(model, ['model'], cfg.get('default_scope'))
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
    # Parts an algorithm declares it needs (``required_parts``, where its
    # signature hides them behind **kwargs or a None default).
    required = set()
    for base in cls.__mro__:
        required.update(vars(base).get('required_parts', ()))
    if init_params(cls) is not None:
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
