"""The arguments every tool shares: --cfg-options tokens and launchers are
refused by argparse (usage and one error line, exit 2), not a traceback."""
import argparse

import pytest

from pixpretrain.apis.cli_args import add_cfg_options, parse_launched


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='tool')
    add_cfg_options(parser)
    return parser


def refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse_launched(parser(), argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


def test_options_parse_to_a_dict():
    args = parse_launched(parser(), ['--cfg-options', 'a.b=1', 'c=[1,2]'])
    assert args.cfg_options == {'a.b': 1, 'c': [1, 2]}
    assert args.launcher == 'none'


def test_an_option_without_a_value_is_refused(capsys):
    line = refused(['--cfg-options', 'a=1', 'model.backbone.patch_size'],
                   capsys)
    assert line == ('tool: error: --cfg-options model.backbone.patch_size: '
                    'every option is KEY=VALUE, e.g. train_cfg.max_iters=100')


@pytest.mark.parametrize('launcher, variable, how', [
    ('pytorch', 'RANK', 'torchrun (tools/dist_train.sh)'),
    ('slurm', 'SLURM_PROCID', 'srun (tools/slurm_train.sh)'),
])
def test_a_launcher_that_did_not_start_the_process_is_refused(
        monkeypatch, capsys, launcher, variable, how):
    monkeypatch.delenv(variable, raising=False)
    line = refused(['--launcher', launcher], capsys)
    assert line == (f'tool: error: --launcher {launcher}: {variable} is not '
                    'set, so no launcher started this process; start it '
                    f'with {how}, or drop --launcher to run one process')
    monkeypatch.setenv(variable, '0')
    assert parse_launched(parser(), ['--launcher', launcher]).launcher == \
        launcher
