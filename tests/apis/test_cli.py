"""run_cli: a tool's exit code, one-line errors, and the process group
left behind destroyed before interpreter exit (gloo's threads can abort a
process that exits with one alive)."""
import subprocess
import sys
import textwrap

import pytest

from pixpretrain.apis.cli import run_cli
from pixpretrain.utils.errors import ConfigError


def test_exit_codes_and_one_line_errors(capsys):
    assert run_cli(lambda: None) == 0
    assert run_cli(lambda: 3) == 3

    def bad():
        raise ConfigError('mask_ratio = 2: must lie in (0, 1]')
    assert run_cli(bad) == 1
    assert capsys.readouterr().err == \
        'error: mask_ratio = 2: must lie in (0, 1]\n'
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_cli(lambda: 1 / 0)


@pytest.mark.distributed
@pytest.mark.parametrize('fails', [False, True])
def test_the_process_group_is_destroyed_on_the_way_out(tmp_path, fails):
    script = textwrap.dedent(f'''
        import torch.distributed as dist
        from pixpretrain.apis.cli import run_cli
        from pixpretrain.utils.errors import ConfigError

        def body():
            dist.init_process_group('gloo', init_method='file://{tmp_path}/s',
                                    rank=0, world_size=1)
            if {fails}:
                raise ConfigError('a bad value')
        code = run_cli(body)
        print(code, dist.is_initialized())
    ''')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(int(fails)), 'False']


@pytest.mark.distributed
def test_a_rank_exits_with_its_code_and_its_output_flushed(tmp_path):
    script = textwrap.dedent(f'''
        import logging, sys
        import torch.distributed as dist
        from pixpretrain.apis.cli import exit_tool, run_cli

        def body():
            dist.init_process_group('gloo', init_method='file://{tmp_path}/s',
                                    rank=0, world_size=1)
            logging.getLogger('tool').addHandler(
                logging.FileHandler('{tmp_path}/log.txt'))
            logging.getLogger('tool').warning('logged')
            print('printed', end='')
            return 3
        exit_tool(run_cli(body))
    ''')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 3, out.stderr[-2000:]
    assert out.stdout == 'printed'
    assert (tmp_path / 'log.txt').read_text() == 'logged\n'
