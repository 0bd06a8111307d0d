"""The config switch ``compile``: eager fallback instead of a stopped run."""
import json
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401  (the config the tests patch)
from mmengine.config import Config
from mmengine.runner import Runner

from pixpretrain.apis import prepare_train_config
from pixpretrain.utils import apply_compile_fallback, compile_unavailable

TINY = str(Path(__file__).resolve().parents[1] / 'fixtures' / 'tiny_mae.py')
FAILING = 'pixpretrain_test_failing_backend'


CALLS = []


def _failing_backend(graph, example_inputs):
    CALLS.append(graph)
    raise RuntimeError('this compiler always fails')


torch._dynamo.register_backend(_failing_backend, name=FAILING)


def _losses(tmp_path, name, **options):
    cfg = Config.fromfile(TINY)
    cfg.merge_from_dict(dict(experiment_name=name, train_cfg=dict(
        max_iters=3), default_hooks=dict(checkpoint=dict(interval=-1)),
        **options))
    cfg = prepare_train_config(cfg, TINY, str(tmp_path / name))
    Runner.from_cfg(cfg).train()
    (log, ) = (tmp_path / name).glob('*/vis_data/scalars.json')
    return [json.loads(line)['loss'] for line in log.read_text().splitlines()]


def test_failing_compiler_trains_eagerly_with_the_same_loss(
        tmp_path, monkeypatch):
    monkeypatch.setattr(torch._dynamo.config, 'suppress_errors', False)
    eager = _losses(tmp_path, 'eager')
    compiled = _losses(tmp_path, 'failing', compile=dict(backend=FAILING))
    assert CALLS, 'the step never reached the compiler'
    assert torch._dynamo.config.suppress_errors
    assert len(eager) == 3
    assert compiled == eager
    torch._dynamo.reset()


def test_missing_cpp_compiler_drops_compile(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setenv('CXX', 'no-such-compiler')
    monkeypatch.setattr('shutil.which', lambda name: None)
    assert 'C++ compiler' in compile_unavailable('inductor')
    assert compile_unavailable('aot_eager') is None
    cfg = Config(dict(compile=True))
    apply_compile_fallback(cfg)
    assert cfg.compile is False


def test_no_compile_key_changes_nothing(monkeypatch):
    monkeypatch.setattr(torch._dynamo.config, 'suppress_errors', False)
    cfg = Config(dict(compile=False))
    apply_compile_fallback(cfg)
    assert cfg.compile is False
    assert not torch._dynamo.config.suppress_errors
