"""Checkpoints load with an exact allow-list and never run code."""
import io
import os
import re
import zipfile

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


AGAIN = 'save or download it again'
LEGACY = saved(runner_like_checkpoint(), _use_new_zipfile_serialization=False)
# What the file is (from its first bytes), as the message must say it;
# {p} is the quoted path.
NOT_A_CHECKPOINT = {
    'text': (b'hello, not a checkpoint\n',
             "{p} is a text file, not a PyTorch checkpoint (it begins "
             "'hello, not a checkpoint')"),
    'html page': (b'<!DOCTYPE html>\n<html>404 Not Found</html>',
                  "{p} is a text file, not a PyTorch checkpoint (it begins "
                  "'<!DOCTYPE html>')"),
    'empty': (b'', '{p} is empty, not a PyTorch checkpoint'),
    'zip without pickle': (zipped(**{'a.txt': 'hi', 'b.txt': 'there'}),
                           '{p} is a zip archive without a PyTorch pickle, '
                           'not a PyTorch checkpoint (it holds a.txt, b.txt)'),
    'zip cut short': (saved(runner_like_checkpoint())[:-5],
                      '{p} is truncated: its zip archive is incomplete; '
                      + AGAIN),
    'legacy format cut short': (
        LEGACY[:len(LEGACY) // 2],
        r'{p} is a truncated or damaged PyTorch checkpoint \(.+\); ' + AGAIN),
    'gzip': (b'\x1f\x8b\x08\x00' + bytes(64),
             '{p} is not a PyTorch checkpoint (it begins with bytes '
             '1f 8b 08 00; torch.save writes a zip archive)'),
}


@pytest.mark.parametrize('case', NOT_A_CHECKPOINT)
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(tmp_path, case):
    content, expected = NOT_A_CHECKPOINT[case]
    path = tmp_path / 'notes.pth'
    path.write_bytes(content)
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
