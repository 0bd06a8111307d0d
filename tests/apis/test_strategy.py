"""--strategy: which runner and strategy a training config gets."""
import pytest
from mmengine.config import Config

from pixpretrain.apis.strategy import apply_strategy
from pixpretrain.engine import FSDP2Strategy
from pixpretrain.utils.errors import ConfigError


def config(launcher='pytorch', **keys):
    return Config(dict(launcher=launcher, **keys))


def test_fsdp_keeps_the_configs_settings_under_flexible_runner():
    cfg = config(strategy=dict(reshard_after_forward=False))
    apply_strategy(cfg, 'fsdp')
    assert cfg.runner_type == 'FlexibleRunner'
    # FlexibleRunner builds it before entering the default scope.
    assert cfg.strategy == dict(type='pixpretrain.FSDP2Strategy',
                                reshard_after_forward=False)


def test_a_config_strategy_runs_without_the_flag():
    cfg = config(strategy=dict(type='FSDP2Strategy'))
    apply_strategy(cfg, None)
    assert cfg.runner_type == 'FlexibleRunner'
    assert cfg.strategy.type == 'pixpretrain.FSDP2Strategy'


@pytest.mark.parametrize('flag, launcher', [('ddp', 'pytorch'),
                                            (None, 'none'),
                                            ('fsdp', 'none')])
def test_ddp_or_one_process_uses_the_plain_runner(flag, launcher):
    cfg = config(launcher, strategy=dict(type='FSDP2Strategy'),
                 runner_type='FlexibleRunner')
    apply_strategy(cfg, flag)
    assert 'strategy' not in cfg
    assert 'runner_type' not in cfg


def test_no_strategy_changes_nothing():
    cfg = config()
    apply_strategy(cfg, None)
    assert cfg.to_dict() == dict(launcher='pytorch')


def test_unknown_choices_are_refused():
    with pytest.raises(ConfigError, match="--strategy = 'zero'"):
        apply_strategy(config(), 'zero')
    with pytest.raises(ConfigError, match='strategy.mixed_precision'):
        FSDP2Strategy(mixed_precision='fp8')


def test_an_option_the_strategy_does_not_take_is_one_line():
    cfg = config(strategy=dict(type='FSDP2Strategy', reshard_afer_forward=0))
    with pytest.raises(ConfigError) as error:
        apply_strategy(cfg, None)
    message = str(error.value)
    assert message.startswith('strategy.reshard_afer_forward = 0: '
                              'FSDP2Strategy takes no such option')
    # Its own options and those of the mmengine strategies below it.
    assert 'reshard_after_forward' in message and 'sync_bn' in message
    assert '\n' not in message
