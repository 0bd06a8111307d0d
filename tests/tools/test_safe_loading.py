"""Every way a checkpoint gets into pixpretrain refuses one whose unpickling
would run code, with one clear line, and the code never runs.

The crafted file (``code_running_checkpoint``, tests/conftest.py) looks like
an mmengine checkpoint but also holds an object whose unpickling creates a
marker file: the marker's absence proves nothing in the file was executed.
"""
import os
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from mmengine.runner.checkpoint import (get_external_models,
                                        get_torchvision_models)

from pixpretrain.apis import init_model
from pixpretrain.utils import CheckpointError

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
TINY_MOCO = str(REPO / 'tests' / 'fixtures' / 'tiny_moco.py')
CONVERTERS = sorted(
    p for p in (REPO / 'tools' / 'model_converters').glob('*.py')
    if not p.name.startswith('_'))
knn_eval = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/knn_eval.py')))
probe_tool = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/probe.py')))
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def refused_in_one_line(err: str, path: Path, cached: str = '') -> bool:
    """One ``error:`` line naming the file (the tools return 1 rather than
    raise, so no traceback follows), and the refused class; a download
    also names where it is cached."""
    lines = [line for line in err.splitlines() if line.startswith('error:')]
    where = f" (cached at '{cached}')" if cached else ''
    return len(lines) == 1 and (
        f"refused to load '{path}'{where}: it references pathlib.Path,"
        in lines[0]) and 'weights_only' not in lines[0]


def train_args(tmp_path, name, *extra):
    return [TINY, '--work-dir', str(tmp_path / 'w'), *extra,
            '--cfg-options', f'experiment_name=safe_{name}']


@pytest.mark.parametrize('how', ['resume', 'auto_resume', 'load_from',
                                 'init_cfg'])
def test_train_tool_refuses_code(tmp_path, capsys, code_running_checkpoint,
                                 how):
    path = code_running_checkpoint.path
    if how == 'resume':
        argv = train_args(tmp_path, how, '--resume', str(path))
    elif how == 'auto_resume':  # the work dir's pointer names the file
        (tmp_path / 'w').mkdir()
        (tmp_path / 'w' / 'last_checkpoint').write_text(str(path))
        argv = train_args(tmp_path, how, '--resume')
    elif how == 'load_from':
        argv = train_args(tmp_path, how) + [f'load_from={path}']
    else:
        argv = train_args(tmp_path, how) + pretrained(path)
    assert train_tool.main(argv) == 1
    assert refused_in_one_line(capsys.readouterr().err, path)
    assert not code_running_checkpoint.marker.exists()
    assert not list((tmp_path / 'w').glob('*.pth'))  # nothing trained


def pretrained(checkpoint):
    return ['model.backbone.init_cfg.type=Pretrained',
            f'model.backbone.init_cfg.checkpoint={checkpoint}',
            'model.backbone.init_cfg.prefix=backbone.']


@pytest.mark.parametrize('how', ['load_from', 'init_cfg'])
def test_train_tool_refuses_code_from_a_url(tmp_path, capsys,
                                            checkpoint_server, download_cache,
                                            code_running_checkpoint, how):
    """mmengine's http loader (torch.hub, weights_only=False) would run it."""
    (checkpoint_server.root / 'x.pth').write_bytes(
        code_running_checkpoint.path.read_bytes())
    url = f'{checkpoint_server.url}/x.pth'
    argv = train_args(tmp_path, f'url_{how}') + (
        [f'load_from={url}'] if how == 'load_from' else pretrained(url))
    assert train_tool.main(argv) == 1
    assert refused_in_one_line(capsys.readouterr().err, url,
                               str(download_cache / 'x.pth'))
    assert not code_running_checkpoint.marker.exists()
    assert not list((tmp_path / 'w').glob('*.pth'))


@pytest.mark.parametrize('checkpoint', ['torchvision://resnet18',
                                        'open-mmlab://vgg16_caffe'])
def test_train_tool_refuses_code_in_the_download_cache(
        tmp_path, capsys, download_cache, code_running_checkpoint,
        checkpoint):
    """A crafted file where the download lands is loaded, not fetched."""
    scheme, name = checkpoint.split('://')
    urls = (get_torchvision_models()
            if scheme == 'torchvision' else get_external_models())
    url = urls[name]  # mmengine's name table
    cached = download_cache / os.path.basename(urlparse(url).path)
    cached.write_bytes(code_running_checkpoint.path.read_bytes())
    argv = train_args(tmp_path, scheme) + pretrained(checkpoint)
    assert train_tool.main(argv) == 1
    assert refused_in_one_line(capsys.readouterr().err, url, str(cached))
    assert not code_running_checkpoint.marker.exists()
    assert not list((tmp_path / 'w').glob('*.pth'))


def test_probe_tool_refuses_code(tmp_path, capsys, code_running_checkpoint):
    path = code_running_checkpoint.path
    assert probe_tool.main([
        TINY, str(path), '--data', 'shapes', '--train-samples', '8',
        '--test-samples', '4', '--num-workers', '0', '--device', 'cpu',
        '--out', str(tmp_path / 'out'), '--cache-dir',
        str(tmp_path / 'cache')
    ]) == 1
    assert refused_in_one_line(capsys.readouterr().err, path)
    assert not code_running_checkpoint.marker.exists()


def test_knn_eval_tool_refuses_code(tmp_path, capsys,
                                    code_running_checkpoint):
    path = code_running_checkpoint.path
    assert knn_eval.main([TINY_MOCO, '--checkpoint', str(path), '--work-dir',
                          str(tmp_path / 'w'), '--cfg-options',
                          'experiment_name=safe_knn_eval']) == 1
    assert f"refused to load '{path}'" in capsys.readouterr().err
    assert not code_running_checkpoint.marker.exists()


def test_init_model_refuses_code(code_running_checkpoint):
    with pytest.raises(CheckpointError, match='refused to load'):
        init_model(TINY, str(code_running_checkpoint.path))
    assert not code_running_checkpoint.marker.exists()


@pytest.mark.parametrize('script', CONVERTERS, ids=lambda p: p.stem)
def test_every_model_converter_refuses_code(tmp_path, capsys, monkeypatch,
                                            code_running_checkpoint, script):
    path = code_running_checkpoint.path
    monkeypatch.setattr(sys, 'argv',
                        [str(script), str(path), str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name='__main__')
    assert exit_info.value.code == 1
    assert refused_in_one_line(capsys.readouterr().err, path)
    assert not code_running_checkpoint.marker.exists()
    assert not (tmp_path / 'out.pth').exists()
