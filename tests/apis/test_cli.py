"""run_cli: a tool's exit code, one-line errors, and the process group
left behind destroyed before interpreter exit (gloo's threads can abort a
process that exits with one alive)."""
import argparse
import json
import subprocess
import sys
import textwrap

import pytest

from pixpretrain.apis.cli import emit_json, run_cli, run_json_tool
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


def test_emit_json_makes_missing_folders(tmp_path, capsys):
    path = tmp_path / 'new' / 'deeper' / 'm.json'
    assert run_cli(lambda: emit_json({'top1': 0.5}, str(path))) == 0
    assert json.loads(path.read_text()) == {'top1': 0.5}
    assert json.loads(capsys.readouterr().out) == {'top1': 0.5}


def test_emit_json_writes_through_a_link_into_its_target(tmp_path):
    target = tmp_path / 'results' / 'm.json'
    target.parent.mkdir()
    target.write_text('old')
    link = tmp_path / 'latest.json'
    link.symlink_to(target)
    assert run_cli(lambda: emit_json({'top1': 0.5}, str(link),
                                     show=False)) == 0
    assert link.is_symlink()  # not replaced by a file of its own
    assert json.loads(target.read_text()) == {'top1': 0.5}


def test_emit_json_refuses_a_folder_in_one_line(tmp_path, capsys):
    folder = tmp_path / 'taken'
    folder.mkdir()
    code = run_cli(lambda: emit_json({'top1': 0.5}, str(folder),
                                     flag='--out'))
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out) == {'top1': 0.5}  # the result survives
    assert captured.err == (f"error: --out '{folder}' is a folder, not a "
                            f"file: name the file to write, e.g. "
                            f"'{folder}/NAME'\n")
    assert list(folder.iterdir()) == []


def test_a_json_tool_refuses_its_path_before_the_work(tmp_path, capsys):
    ran = []
    args = argparse.Namespace(json=str(tmp_path))
    assert run_json_tool(lambda a: ran.append(a) or {}, args) == 1
    assert ran == []
    assert capsys.readouterr().err.startswith(
        f"error: --json '{tmp_path}' is a folder, not a file")


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
