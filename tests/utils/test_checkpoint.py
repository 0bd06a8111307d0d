"""Checkpoints load with an exact allow-list and never run code."""
import io
import json
import os
import re
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from mmengine.fileio import BaseStorageBackend
from mmengine.fileio.backends import registry_utils
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        get_external_models, get_mmcls_models,
                                        get_torchvision_models)

from pixpretrain.utils import CheckpointError, safe_load
from pixpretrain.utils import checkpoint as checkpoint_module
from pixpretrain.utils import remote_checkpoint


class ReachesThroughGetattr:
    """Asks for getattr on an allowed class, but for a method not allowed."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'update'))


class AllowedMethod:
    """Unpickles (through the allowed getattr) as ``HistoryBuffer.min``."""

    def __call__(self):
        pass

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'min'))


class CallsAllowedMethod:
    """Calls the function an allowed getattr returned: a second reduce."""

    def __reduce__(self):
        return (AllowedMethod(), (1, ))


class PlainData:
    """An ordinary class a user might save: not on the allow-list."""

    def __init__(self):
        self.value = 1


def refusal(path, name):
    """The one message every refused checkpoint gets."""
    return (f"refused to load '{path}': it references {name}, which is not "
            'a tensor or a type pixpretrain checkpoints hold. Unpickling it '
            'could run code, so nothing in the file was executed. Only load '
            'files you trust; to allow a class deliberately, pass it to '
            'torch.serialization.add_safe_globals before loading.')


def runner_like_checkpoint():
    buffer = HistoryBuffer()
    for value in (1.0, 0.5, np.float64(0.25)):
        buffer.update(value)
    return dict(
        meta=dict(epoch=1, iter=10, cfg='model = dict()', seed=0),
        state_dict={'w': torch.arange(4.0)},
        message_hub=dict(log_scalars={'train/loss': buffer},
                         runtime_info={'iter': np.int64(10)}),
        optimizer=dict(state={}, param_groups=[dict(lr=0.1)]))


def test_runner_checkpoint_round_trips(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save(runner_like_checkpoint(), path)
    loaded = safe_load(str(path))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == pytest.approx(np.mean([1.0, 0.5, 0.25]))
    assert buffer.min() == 0.25
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.0))


@pytest.mark.parametrize('via_mmengine', [False, True])
def test_code_in_a_checkpoint_never_runs(code_running_checkpoint,
                                         via_mmengine):
    load = _load_checkpoint if via_mmengine else safe_load
    with pytest.raises(CheckpointError, match='refused to load') as info:
        load(str(code_running_checkpoint.path))
    assert 'pathlib.Path' in str(info.value)
    assert not code_running_checkpoint.marker.exists()


# What torch's weights-only unpickler refuses, and the name each message
# must give: torch words these four ways (an unknown global, a blocked
# module, an object it cannot build, a call it does not know).
REFUSED = {
    'arbitrary global': (os.system, f'{os.system.__module__}.system'),
    'numpy object array': (np.array([1, 'a'], dtype=object),
                           'numpy.dtypes.ObjectDType'),
    'custom class': (PlainData(), f'{PlainData.__module__}.PlainData'),
    'getattr trick': (ReachesThroughGetattr(),
                      "getattr('HistoryBuffer', 'update')"),
    'call through getattr': (CallsAllowedMethod(), 'HistoryBuffer.min'),
}


@pytest.mark.parametrize('case', REFUSED)
def test_refusal_names_the_class_and_never_suggests_full_unpickling(
        tmp_path, case):
    obj, name = REFUSED[case]
    path = tmp_path / 'refused.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'x': obj}, path)
    with pytest.raises(CheckpointError) as info:
        safe_load(str(path))
    assert str(info.value) == refusal(path, name)
    assert 'weights_only' not in str(info.value)


def test_the_advice_in_the_refusal_works(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save({'x': PlainData()}, path)
    with torch.serialization.safe_globals([PlainData]):
        assert safe_load(str(path))['x'].value == 1


def saved(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def zipped(**members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def saved_script() -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buffer)
    return buffer.getvalue()


AGAIN = 'save or download it again'
LEGACY = saved(runner_like_checkpoint(), _use_new_zipfile_serialization=False)
# What the file is (from its first bytes), as the message must say it;
# {p} is the quoted path.
NOT_A_CHECKPOINT = {
    'text': (b'hello, not a checkpoint\n',
             "{p} is not a PyTorch checkpoint: it is a text file (it begins "
             "'hello, not a checkpoint')"),
    'html page': (b'<!DOCTYPE html>\n<html>404 Not Found</html>',
                  "{p} is not a PyTorch checkpoint: it is a text file (it "
                  "begins '<!DOCTYPE html>')"),
    'empty': (b'', '{p} is not a PyTorch checkpoint: it is empty'),
    'zip without pickle': (zipped(**{'a.txt': 'hi', 'b.txt': 'there'}),
                           '{p} is not a PyTorch checkpoint: it is a zip '
                           'archive without a PyTorch pickle (it holds a.txt, '
                           'b.txt)'),
    'zip cut short': (saved(runner_like_checkpoint())[:-5],
                      '{p} is truncated: its zip archive is incomplete; '
                      + AGAIN),
    'legacy format cut short': (
        LEGACY[:len(LEGACY) // 2],
        r'{p} is a truncated or damaged PyTorch checkpoint \(.+\); ' + AGAIN),
    'torchscript': (
        saved_script,  # built when the test runs: scripting is slow
        '{p} is not a PyTorch checkpoint: it is a TorchScript archive '
        '(torch.jit.save); load it with torch.jit.load'),
    'gzip': (b'\x1f\x8b\x08\x00' + bytes(64),
             '{p} is not a PyTorch checkpoint (it begins with bytes '
             '1f 8b 08 00; torch.save writes a zip archive)'),
}


@pytest.mark.parametrize('case', NOT_A_CHECKPOINT)
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(tmp_path, case):
    content, expected = NOT_A_CHECKPOINT[case]
    path = tmp_path / 'notes.pth'
    path.write_bytes(content() if callable(content) else content)
    with pytest.raises(CheckpointError) as info:
        safe_load(str(path))
    quoted = f"'{path}'"
    if case == 'legacy format cut short':  # torch words the reason
        assert re.fullmatch(expected.format(p=re.escape(quoted)),
                            str(info.value))
    else:
        assert str(info.value) == expected.format(p=quoted)
    assert 'weights_only' not in str(info.value)
    assert '(101)' not in str(info.value)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save(runner_like_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        safe_load(str(path))
    assert str(info.value) == (f"'{path}' is truncated: its zip archive is "
                               f'incomplete; {AGAIN}')


# ---- every scheme mmengine's CheckpointLoader knows loads the same way ----


def test_every_scheme_mmengine_knows_loads_through_pixpretrain():
    """mmengine's own remote loaders end in torch.hub's weights_only=False;
    none of them may be left registered."""
    schemes = dict(CheckpointLoader._schemes)
    assert {'', 'http://', 'https://', 'torchvision://', 'modelzoo://',
            'open-mmlab://', 'openmmlab://', 'mmcls://', 'pavi://',
            r'(\S+\:)?s3://', r'(\S+\:)?petrel://'} <= set(schemes)
    assert {prefix: loader.__module__ for prefix, loader in schemes.items()
            } == {prefix: (checkpoint_module.__name__ if prefix == '' else
                           remote_checkpoint.__name__) for prefix in schemes}


def cached_name(url: str) -> str:
    """The file name torch.hub's cache gives a download."""
    return os.path.basename(urlparse(url).path)


def assert_refused(info, name, marker):
    assert str(info.value).startswith(f'refused to load {name}: it '
                                      'references pathlib.Path, which')
    assert 'weights_only' not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize('model_dir', [None, 'elsewhere'])
def test_http_checkpoint_downloads_to_torch_hubs_cache_and_loads(
        tmp_path, checkpoint_server, download_cache, model_dir):
    torch.save(runner_like_checkpoint(), checkpoint_server.root / 'ok.pth')
    url = f'{checkpoint_server.url}/ok.pth'
    if model_dir is None:  # through mmengine, as load_from does
        loaded = _load_checkpoint(url, map_location='cpu')
        cache = download_cache
    else:
        cache = tmp_path / model_dir
        loaded = remote_checkpoint.load_from_http_safely(
            url, model_dir=str(cache))
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.0))
    assert (cache / 'ok.pth').read_bytes() == (checkpoint_server.root /
                                               'ok.pth').read_bytes()


def test_http_checkpoint_with_code_is_refused(checkpoint_server,
                                              download_cache,
                                              code_running_checkpoint):
    (checkpoint_server.root / 'x.pth').write_bytes(
        code_running_checkpoint.path.read_bytes())
    url = f'{checkpoint_server.url}/x.pth'
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(url)
    assert_refused(info, f"'{url}' (cached at '{download_cache / 'x.pth'}')",
                   code_running_checkpoint.marker)


def test_http_page_that_is_not_a_checkpoint(checkpoint_server,
                                            download_cache):
    (checkpoint_server.root / 'page.pth').write_text('<html>login</html>')
    url = f'{checkpoint_server.url}/page.pth'
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(url)
    assert str(info.value) == (
        f"'{url}' (cached at '{download_cache / 'page.pth'}') is not a "
        "PyTorch checkpoint: it is a text file (it begins "
        "'<html>login</html>')")


def test_http_checkpoint_that_is_not_there(checkpoint_server,
                                           download_cache):
    url = f'{checkpoint_server.url}/missing.pth'
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(url)
    assert str(info.value) == (
        f"could not download '{url}' (HTTP Error 404: File not found); "
        'check the address and the network, or put the file at '
        f"'{download_cache / 'missing.pth'}'")
    assert not (download_cache / 'missing.pth').exists()


@pytest.mark.parametrize('scheme', ['torchvision', 'modelzoo'])
def test_torchvision_checkpoint_is_loaded_from_the_cache_safely(
        download_cache, code_running_checkpoint, scheme):
    url = get_torchvision_models()['resnet18']  # mmengine's name table
    cached = download_cache / cached_name(url)
    torch.save(runner_like_checkpoint(), cached)
    loaded = _load_checkpoint(f'{scheme}://resnet18')
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.0))

    cached.write_bytes(code_running_checkpoint.path.read_bytes())
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(f'{scheme}://resnet18')
    assert_refused(info, f"'{url}' (cached at '{cached}')",
                   code_running_checkpoint.marker)


def test_unknown_model_name_suggests_known_ones(download_cache):
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint('torchvision://resnet81')
    assert str(info.value).startswith(
        "'torchvision://resnet81' names no checkpoint mmengine knows; did "
        'you mean resnet18')


@pytest.fixture
def openmmlab_names(checkpoint_server, download_cache) -> dict:
    """``$MMENGINE_HOME/open_mmlab.json`` adding a served and a local name
    to mmengine's table, as users do."""
    home = Path(os.environ['MMENGINE_HOME'])
    home.mkdir(parents=True, exist_ok=True)
    names = {'served': f'{checkpoint_server.url}/served.pth',
             'local': 'local.pth'}
    (home / 'open_mmlab.json').write_text(json.dumps(names))
    return {'served': checkpoint_server.root / 'served.pth',
            'local': home / 'local.pth'}


@pytest.mark.parametrize('name', [
    'open-mmlab://served', 'openmmlab://served', 'open-mmlab://local',
    'open-mmlab://vgg16_caffe', 'open-mmlab://resnet50_caffe'
])
def test_openmmlab_checkpoint_is_loaded_safely(download_cache,
                                               code_running_checkpoint,
                                               openmmlab_names, name):
    key = name.split('://')[1]
    if key in openmmlab_names:  # served over http, or under MMENGINE_HOME
        placed = openmmlab_names[key]
    else:  # mmengine's table (resnet50_caffe is deprecated: renamed)
        key = {'resnet50_caffe': 'detectron/resnet50_caffe'}.get(key, key)
        placed = download_cache / cached_name(get_external_models()[key])
    torch.save(runner_like_checkpoint(), placed)
    assert torch.equal(_load_checkpoint(name)['state_dict']['w'],
                       torch.arange(4.0))

    crafted = code_running_checkpoint.path.read_bytes()
    for copy in {placed, download_cache / placed.name}:  # the cached one too
        copy.write_bytes(crafted)
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(name)
    assert 'references pathlib.Path' in str(info.value)
    assert not code_running_checkpoint.marker.exists()


def test_mmcls_checkpoint_is_loaded_safely(download_cache,
                                           code_running_checkpoint):
    cached = download_cache / cached_name(get_mmcls_models()['resnet18'])
    torch.save({'state_dict': {'backbone.w': torch.ones(2),
                               'head.fc': torch.zeros(1)}}, cached)
    loaded = _load_checkpoint('mmcls://resnet18')
    assert list(loaded['state_dict']) == ['w']  # mmengine keeps the backbone

    cached.write_bytes(code_running_checkpoint.path.read_bytes())
    with pytest.raises(CheckpointError, match='references pathlib.Path'):
        _load_checkpoint('mmcls://resnet18')
    assert not code_running_checkpoint.marker.exists()


class InMemoryBackend(BaseStorageBackend):
    """Stands in for the petrel (s3) file backend: bytes by path."""

    files: dict = {}

    def __init__(self, **kwargs):
        pass

    def get(self, filepath):
        return self.files[str(filepath)]

    def get_text(self, filepath, encoding='utf-8'):
        return self.get(filepath).decode(encoding)


@pytest.mark.parametrize('path', ['s3://bucket/ckpt.pth',
                                  'petrel://bucket/ckpt.pth',
                                  'cluster:s3://bucket/ckpt.pth'])
def test_file_backend_checkpoint_is_loaded_safely(monkeypatch,
                                                  code_running_checkpoint,
                                                  path):
    monkeypatch.setitem(registry_utils.backends, 'petrel', InMemoryBackend)
    monkeypatch.setattr(InMemoryBackend, 'files',
                        {path: saved(runner_like_checkpoint())})
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'],
                       torch.arange(4.0))

    InMemoryBackend.files[path] = code_running_checkpoint.path.read_bytes()
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint(path)
    assert_refused(info, f"'{path}'", code_running_checkpoint.marker)


def test_pavi_is_refused_in_one_line():
    with pytest.raises(CheckpointError) as info:
        _load_checkpoint('pavi://model/1')
    assert str(info.value) == (
        "refused to load 'pavi://model/1': pixpretrain does not load "
        'pavi:// checkpoints; download the file with pavi and pass its '
        'local path')
