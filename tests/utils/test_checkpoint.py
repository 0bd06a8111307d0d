"""Checkpoints load with an exact allow-list and never run code."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from pixpretrain.utils import CheckpointError, safe_load


class ReachesThroughGetattr:
    """Asks for getattr on an allowed class, but for a method not allowed."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'update'))


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


def test_getattr_is_only_allowed_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'x': ReachesThroughGetattr()}, path)
    with pytest.raises(CheckpointError, match='refused'):
        safe_load(str(path))


@pytest.mark.parametrize('content', [b'hello, not a checkpoint\n', b''])
def test_a_file_that_is_not_a_checkpoint(tmp_path, content):
    path = tmp_path / 'notes.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match='is not a PyTorch checkpoint'):
        safe_load(str(path))


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save(runner_like_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated'):
        safe_load(str(path))
