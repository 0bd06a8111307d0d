"""Fixtures shared across the test folders."""
import functools
import http.server
import pathlib
import socket
import threading
from typing import Iterator, NamedTuple

import pytest
import torch


class WritesFile:
    """Unpickling this would touch a file: the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path), ))


class CodeRunningCheckpoint(NamedTuple):
    path: pathlib.Path  # a .pth whose unpickling would create `marker`
    marker: pathlib.Path  # exists only if code in the file ran


@pytest.fixture
def code_running_checkpoint(tmp_path) -> CodeRunningCheckpoint:
    """A checkpoint shaped like mmengine's (weights under ``state_dict``,
    ``meta``) that also holds an object whose unpickling touches a file."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'crafted.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 1}, 'state_dict': {},
                'payload': WritesFile(marker)}, path)
    return CodeRunningCheckpoint(path, marker)


class CheckpointServer(NamedTuple):
    url: str  # http://127.0.0.1:<port>, serving the files in `root`
    root: pathlib.Path


@pytest.fixture
def checkpoint_server(tmp_path, monkeypatch) -> Iterator[CheckpointServer]:
    """An HTTP server on 127.0.0.1 serving ``root`` for the test's length,
    so remote checkpoints are tested without the internet."""
    root = tmp_path / 'served'
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        timeout = 10  # a stalled client cannot hold the thread longer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in ('no_proxy', 'NO_PROXY'):  # a proxy could not reach it
        monkeypatch.setenv(name, '127.0.0.1')
    try:
        yield CheckpointServer(f'http://127.0.0.1:{server.server_port}', root)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def download_cache(tmp_path, monkeypatch) -> pathlib.Path:
    """A fresh ``$TORCH_HOME`` (and ``$MMENGINE_HOME`` inside it), so
    downloads land in the test's folder; returns torch.hub's checkpoint
    cache, ``$TORCH_HOME/hub/checkpoints``, created."""
    torch_home = tmp_path / 'torch_home'
    monkeypatch.setenv('TORCH_HOME', str(torch_home))
    monkeypatch.setenv('MMENGINE_HOME', str(torch_home / 'mmengine'))
    cache = torch_home / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    return cache


@pytest.fixture
def master_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a test's process group."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# First: xdist reads the groups in its own hook, to schedule by them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Under pytest-xdist (``--dist loadgroup``, see pytest.ini): tests that
    start process groups run one after another on one worker, so that two
    of them never fight over ports or both cores; every other test module
    stays whole on one worker, so its module-scoped fixtures run once."""
    for item in items:
        if item.get_closest_marker('xdist_group') is not None:
            continue
        group = 'distributed' if item.get_closest_marker('distributed') \
            else item.nodeid.split('::')[0]
        item.add_marker(pytest.mark.xdist_group(group))
