"""Which distributed strategy trains a launched run: DDP under mmengine's
``Runner`` (the default), or a strategy under its ``FlexibleRunner`` (FSDP2
sharding, :class:`pixpretrain.engine.FSDP2Strategy`)."""
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

from pixpretrain.apis.config_checks.signatures import \
    inherited_init_params
from pixpretrain.registry import SCOPE, STRATEGIES
from pixpretrain.utils.errors import bad_value

#: ``tools/train.py --strategy`` choices: the strategy type each selects
#: (``None``: mmengine's Runner with DDP).
STRATEGY_CHOICES = {'ddp': None, 'fsdp': 'FSDP2Strategy'}


def apply_strategy(cfg: Config, strategy: Optional[str] = None) -> None:
    """Set the config's ``strategy`` and ``runner_type`` for ``--strategy``.

    ``'fsdp'`` keeps the settings of a ``strategy`` dict the config already
    has (``shard_blocks``, ``reshard_after_forward``, ``mixed_precision``)
    and sets its type to ``FSDP2Strategy``; ``'ddp'`` drops the config's
    strategy; ``None`` keeps what the config says. A config with a strategy
    runs under ``FlexibleRunner``. A single process (no launcher) has no
    ranks to shard over: it trains without the strategy, saying so.

    Args:
        cfg: The config, ``launcher`` set; changed in place.
        strategy: ``'ddp'``, ``'fsdp'`` or ``None``.

    Raises:
        ConfigError: ``strategy`` is not one of :data:`STRATEGY_CHOICES`.
    """
    if strategy is not None and strategy not in STRATEGY_CHOICES:
        raise bad_value('--strategy', strategy,
                        f"allowed: {', '.join(STRATEGY_CHOICES)}")
    if strategy is not None:
        settings = dict(cfg.get('strategy') or {})
        cfg.strategy = None
        if STRATEGY_CHOICES[strategy] is not None:
            cfg.strategy = dict(settings, type=STRATEGY_CHOICES[strategy])
    if cfg.get('strategy') and cfg.get('launcher', 'none') == 'none':
        print_log(f"strategy {cfg.strategy.get('type')} shards a run over "
                  'launched processes; one process trains without it',
                  logger='current', level=30)
        cfg.strategy = None
    if not cfg.get('strategy'):
        cfg.pop('strategy', None)
        if cfg.get('runner_type') == 'FlexibleRunner':
            cfg.pop('runner_type')
        return
    _check_strategy_keys(cfg.strategy)
    cfg.setdefault('runner_type', 'FlexibleRunner')
    # FlexibleRunner builds the strategy before it enters the config's
    # default scope: a name of ours needs its scope spelled out.
    name = cfg.strategy.get('type')
    if isinstance(name, str) and '.' not in name and \
            name in STRATEGIES.module_dict:
        cfg.strategy.type = f'{SCOPE}.{name}'


def _check_strategy_keys(strategy: dict) -> None:
    """Refuse a ``strategy`` key its class (and the mmengine strategies it
    passes ``**kwargs`` on to) does not take, before any process builds it.
    """
    cls = STRATEGIES.get(strategy.get('type')) if isinstance(
        strategy.get('type'), str) else strategy.get('type')
    accepted = inherited_init_params(cls) if isinstance(cls, type) else None
    if accepted is None:
        return  # an unknown type (the registry's own error names it)
    accepted.add('type')
    for key in strategy:
        if key not in accepted:
            raise bad_value(f'strategy.{key}', strategy[key],
                            f'{cls.__name__} takes no such option (allowed: '
                            f"{', '.join(sorted(accepted - {'type'}))})")
