"""examples/plugin_package installed with pip, used by name from a config.

The package goes into a throwaway virtual environment layered over this one
(a ``.pth`` file naming this interpreter's site-packages), so the test sees
exactly this environment plus the plugin, and other processes sharing this
environment never see it. ``venv --system-site-packages`` would not do: made
from inside a virtual environment, it sees the base interpreter's packages
(and its setuptools), not the running environment's.
"""
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_mae.py'
PACKAGE = REPO / 'examples' / 'plugin_package'


def run(python, *args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    env.pop('PIXPRETRAIN_PLUGINS', None)
    return subprocess.run([str(python), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def plugin_python(tmp_path_factory):
    """A Python with examples/plugin_package pip-installed (editable)."""
    root = tmp_path_factory.mktemp('plugin_env')
    source = root / 'plugin_package'
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns(
        '*.egg-info', 'build', '__pycache__'))
    venv = root / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True, timeout=120)
    python = venv / 'bin' / 'python'
    (own_site, ) = venv.glob('lib/python3*/site-packages')
    (own_site / 'parent_environment.pth').write_text(
        '\n'.join(site.getsitepackages()) + '\n')
    install = subprocess.run(
        [sys.executable, '-m', 'pip', '--python', str(python), 'install',
         '--no-deps', '--no-build-isolation', '--no-index', '-e',
         str(source)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return python


def test_the_plugin_environment_sees_this_environments_packages(
        plugin_python):
    import mmengine
    result = run(plugin_python, '-c', 'import sys, mmengine, torch; '
                 'print(mmengine.__file__); print(torch.__file__); '
                 'print(sys.prefix)')
    assert result.returncode == 0, result.stderr[-2000:]
    mmengine_file, torch_file, prefix = result.stdout.split()
    assert (mmengine_file, torch_file) == (mmengine.__file__, torch.__file__)
    assert prefix != sys.prefix  # and yet a separate environment


def write_config(path):
    path.write_text(
        f"_base_ = ['{TINY}']\n"
        "model = dict(head=dict(type='HuberMAEHead', delta=0.5))\n"
        "train_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='RandomResizedCrop', size=32, scale=(0.5, 1.0)),\n"
        "    dict(type='RandomPosterize', bits=3, prob=1.0),\n"
        "    dict(type='PackInputs'),\n"
        "]))\n"
        "train_cfg = dict(max_iters=2)\n"
        "default_hooks = dict(checkpoint=dict(interval=2))\n")
    return path


def test_list_modules_shows_the_plugin_modules(plugin_python):
    result = run(plugin_python, 'tools/misc/list_modules.py', '--registry',
                 'model', 'transform', '--json')
    assert result.returncode == 0, result.stderr[-3000:]
    listing = json.loads(result.stdout)
    head = listing['registries']['model']['modules']['HuberMAEHead']
    assert head['module'] == 'pixpretrain_example_plugin.heads'
    assert head['distribution'] == 'pixpretrain-example-plugin 0.1.0'
    transform = listing['registries']['transform']['modules'][
        'RandomPosterize']
    assert transform['distribution'] == 'pixpretrain-example-plugin 0.1.0'
    assert listing['registries']['model']['modules']['MAE'][
        'module'].startswith('pixpretrain.')
    (plugin, ) = [p for p in listing['plugins'] if p['name'] == 'example']
    assert plugin['error'] is None


def test_config_uses_plugin_modules_by_name_without_imports(
        plugin_python, tmp_path):
    config = write_config(tmp_path / 'huber.py')
    # A broken plugin installed beside it must not stop the run.
    plugin_site = next((plugin_python.parent.parent / 'lib').glob(
        'python*/site-packages'))
    info = plugin_site / 'broken_plugin-0.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.0\n')
    (info / 'entry_points.txt').write_text(
        '[pixpretrain.plugins]\nbroken = broken_plugin_missing_module\n')
    try:
        result = run(plugin_python, 'tools/train.py', config, '--work-dir',
                     tmp_path / 'work')
    finally:
        shutil.rmtree(info)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "plugin 'broken' (broken_plugin_missing_module) from " \
        'broken-plugin 0.0 was not loaded: ModuleNotFoundError' in \
        result.stderr
    # A set-up note: the run's log file has it (the console is brief).
    (log, ) = (tmp_path / 'work').glob('*/*.log')
    assert "loaded pixpretrain plugin 'example'" in log.read_text()
    state = torch.load(tmp_path / 'work' / 'iter_2.pth', weights_only=False)
    assert "type='HuberMAEHead'" in state['meta']['cfg']
    assert torch.isfinite(torch.tensor(
        [json.loads(line)['loss'] for line in next(
            (tmp_path / 'work').glob('*/vis_data/scalars.json')
        ).read_text().splitlines() if 'loss' in line])).all()


def test_without_the_plugin_the_same_config_names_the_unknown_type(
        tmp_path):
    config = write_config(tmp_path / 'huber.py')
    result = run(sys.executable, 'tools/train.py', config, '--work-dir',
                 tmp_path / 'work')
    assert result.returncode == 1
    assert "unknown type 'HuberMAEHead'" in result.stderr
