"""CIFAR-10/100 from tiny fake batches written in the official format."""
import os
import pickle
import signal

import numpy as np
import pytest
import torch

from pixpretrain.datasets import CIFAR10, CIFAR100
from pixpretrain.utils.errors import DataFileError, DataRootNotFoundError

CIFAR10_NAMES = [b'airplane', b'automobile', b'bird', b'cat', b'deer', b'dog',
                 b'frog', b'horse', b'ship', b'truck']


def _dump(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)


def _batch(n: int, first_label: int, key=lambda k: k.encode()) -> dict:
    data = np.zeros((n, 3072), dtype=np.uint8)
    # Image 0: pixel (row 5, col 7) = (200, 100, 50). Rows hold the R plane,
    # then G, then B, each 32x32 row-major.
    for channel, value in enumerate((200, 100, 50)):
        data[0, channel * 1024 + 5 * 32 + 7] = value
    data[1:, :] = np.arange(1, n)[:, None]
    return {
        key('batch_label'): b'fake',
        key('labels'): [(first_label + i) % 10 for i in range(n)],
        key('data'): data,
        key('filenames'): [b'x.png'] * n,
    }


def make_cifar10(root, n=2, key=lambda k: k.encode()):
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    for i in range(1, 6):
        _dump(folder / f'data_batch_{i}', _batch(n, i, key))
    _dump(folder / 'test_batch', _batch(n, 7, key))
    _dump(folder / 'batches.meta', {key('label_names'): CIFAR10_NAMES,
                                    key('num_vis'): 3072})
    return folder


@pytest.mark.parametrize('key', [lambda k: k.encode(), str],
                         ids=['bytes_keys', 'str_keys'])
def test_cifar10_reads_official_batches(tmp_path, key):
    make_cifar10(tmp_path, key=key)
    ds = CIFAR10(str(tmp_path), serialize_data=False)
    assert len(ds) == 10
    assert ds.metainfo['classes'][0] == 'airplane'
    assert len(ds.metainfo['classes']) == 10
    info = ds.get_data_info(0)
    img = info['img']
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[5, 7], [200, 100, 50])
    assert img.sum() == 350  # nothing else set, so no plane went astray
    assert info['gt_label'] == 1 and info['img_path'] is None
    # Batches are read in order 1..5: the third sample is batch 2's first.
    assert ds.get_data_info(2)['gt_label'] == 2
    test = CIFAR10(str(tmp_path), split='test', serialize_data=False)
    assert len(test) == 2 and test.get_data_info(1)['gt_label'] == 8


def test_cifar10_pipeline_and_batch_folder_as_root(tmp_path):
    folder = make_cifar10(tmp_path)
    ds = CIFAR10(str(folder), pipeline=[
        dict(type='RandomFlip', prob=1.0),
        dict(type='PackInputs')
    ])
    out = ds[0]
    assert out['inputs'].shape == (3, 32, 32)
    assert out['inputs'].dtype == torch.uint8
    assert out['inputs'][:, 5, 31 - 7].tolist() == [200, 100, 50]
    assert int(out['data_samples'].gt_label) == 1
    # The pipeline worked on a copy: the stored sample is unchanged.
    np.testing.assert_array_equal(ds.get_data_info(0)['img'][5, 7],
                                  [200, 100, 50])


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / 'cifar-100-python'
    folder.mkdir()
    for split, n in (('train', 3), ('test', 2)):
        batch = _batch(n, 0)
        del batch[b'labels']
        batch[b'fine_labels'] = [99 - i for i in range(n)]
        batch[b'coarse_labels'] = [0] * n
        _dump(folder / split, batch)
    _dump(folder / 'meta', {
        b'fine_label_names': [f'c{i}'.encode() for i in range(100)],
        b'coarse_label_names': [b'x'] * 20
    })
    ds = CIFAR100(str(tmp_path), split='test', serialize_data=False)
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 100
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [99, 98]
    np.testing.assert_array_equal(ds.get_data_info(0)['img'][5, 7],
                                  [200, 100, 50])


def test_missing_files_point_at_download_and_docs(tmp_path):
    with pytest.raises(DataRootNotFoundError) as exc_info:
        CIFAR10(str(tmp_path / 'cifar'))
    message = str(exc_info.value)
    assert 'download=True' in message and 'docs/data_preparation.md' in message
    assert str(tmp_path / 'cifar') in message and '\n' not in message
    folder = make_cifar10(tmp_path)
    os.remove(folder / 'data_batch_3')
    with pytest.raises(DataRootNotFoundError, match='data_batch_3'):
        CIFAR10(str(tmp_path))
    CIFAR10(str(tmp_path), split='test', serialize_data=False)  # still fine


def test_download_delegates_to_torchvision(tmp_path, monkeypatch):
    import torchvision.datasets
    calls = []

    def fake_cifar10(root, train, download):
        calls.append((root, train, download))
        make_cifar10(tmp_path)

    monkeypatch.setattr(torchvision.datasets, 'CIFAR10', fake_cifar10)
    ds = CIFAR10(str(tmp_path), download=True, serialize_data=False)
    assert calls == [(str(tmp_path), True, True)]
    assert len(ds) == 10


def test_image_folder_copy_is_read_when_batches_are_absent(tmp_path):
    from PIL import Image
    names = [n.decode() for n in CIFAR10_NAMES]
    for label, name in enumerate(names):
        img = np.full((32, 32, 3), label * 20, dtype=np.uint8)
        (tmp_path / 'test' / name).mkdir(parents=True)
        Image.fromarray(img).save(tmp_path / 'test' / name / '0000.png')
    ds = CIFAR10(str(tmp_path), split='test', serialize_data=False,
                 pipeline=[dict(type='PackInputs')])
    assert ds.metainfo['classes'] == tuple(names)
    assert len(ds) == 10
    out = ds[3]
    assert int(out['data_samples'].gt_label) == 3
    assert out['inputs'].shape == (3, 32, 32)
    assert int(out['inputs'][0, 0, 0]) == 60
    with pytest.raises(DataRootNotFoundError, match='image-folder copy'):
        CIFAR10(str(tmp_path), split='train')
    with pytest.raises(DataFileError, match='10 class folders with images; '
                       'CIFAR-100 has 100: unpack the data set again'):
        CIFAR100(str(tmp_path), split='test')
    (tmp_path / 'train').mkdir()  # an unpacking that stopped early
    with pytest.raises(DataFileError, match="train' has 0 class folders"):
        CIFAR10(str(tmp_path), split='train')


# --- what the batch files may hold ----------------------------------------


def _py2_pickle(obj) -> bytes:
    """``obj`` as Python 2's cPickle wrote the official batches (protocol 2,
    ``str`` as SHORT_BINSTRING / BINSTRING, arrays through
    ``numpy.core.multiarray._reconstruct`` with numpy 1.x's dtype state).
    Python 3 cannot write this itself: it has no py2 ``str``."""
    out = [b'\x80\x02']

    def string(data: bytes):
        if len(data) < 256:
            out.append(b'U' + bytes([len(data)]) + data)
        else:
            out.append(b'T' + len(data).to_bytes(4, 'little') + data)

    def integer(n: int):
        if 0 <= n < 256:
            out.append(b'K' + bytes([n]))
        else:
            out.append(b'J' + n.to_bytes(4, 'little', signed=True))

    def emit(value):
        if isinstance(value, bytes):
            string(value)
        elif isinstance(value, int):
            integer(value)
        elif value is None:
            out.append(b'N')
        elif isinstance(value, list):
            out.append(b'](')
            for item in value:
                emit(item)
            out.append(b'e')
        elif isinstance(value, dict):
            out.append(b'}(')
            for key, item in value.items():
                emit(key)
                emit(item)
            out.append(b'u')
        elif isinstance(value, np.ndarray):
            assert value.dtype == np.uint8 and value.flags.c_contiguous
            out.append(b'cnumpy.core.multiarray\n_reconstruct\n'
                       b'cnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01')
            out.append(b'(')
            for dim in value.shape:
                integer(dim)
            out.append(b't')
            out.append(b'cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R'
                       b'(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff'
                       b'K\x00tb\x89')
            string(value.tobytes())
            out.append(b'tb')
        else:
            raise TypeError(type(value))

    emit(obj)
    out.append(b'.')
    return b''.join(out)


def test_python2_format_checks_out_with_the_stock_unpickler():
    # The writer itself, judged by the unrestricted loader.
    batch = _batch(3, 4)
    loaded = pickle.loads(_py2_pickle(batch), encoding='latin1')
    assert loaded['labels'] == [4, 5, 6] and loaded['batch_label'] == 'fake'
    np.testing.assert_array_equal(loaded['data'], batch[b'data'])


def _write_cifar10(root, dumps) -> None:
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f'data_batch_{i}').write_bytes(dumps(_batch(2, i)))
    (folder / 'test_batch').write_bytes(dumps(_batch(2, 7)))
    # An empty bytes value: Python 3 writes it as bytes() at protocol 2.
    (folder / 'batches.meta').write_bytes(dumps(
        {b'label_names': CIFAR10_NAMES, b'num_vis': 3072,
         b'num_cases_per_batch': 2, b'note': b''}))


@pytest.mark.parametrize('dumps', [
    _py2_pickle,
    lambda obj: pickle.dumps(obj, protocol=2),  # bytes via _codecs.encode
    lambda obj: pickle.dumps(obj, protocol=5),  # arrays via _frombuffer
], ids=['python2', 'python3_protocol2', 'python3_protocol5'])
def test_batches_as_written_by_python2_and_python3_load(tmp_path, dumps):
    _write_cifar10(tmp_path, dumps)
    ds = CIFAR10(str(tmp_path), serialize_data=False)
    assert ds.metainfo['classes'][9] == 'truck'
    assert [ds.get_data_info(i)['gt_label'] for i in range(4)] == [1, 2, 2, 3]
    img = ds.get_data_info(0)['img']
    np.testing.assert_array_equal(img[5, 7], [200, 100, 50])
    assert img.sum() == 350


class _Call:
    """Pickles as a call of ``func(*args)``, as a crafted file would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _crafted_payloads(marker):
    """(where, value, pickle protocol, what the error must name): each
    value, unpickled by the stock loader, writes ``marker`` or holds a
    non-numeric array. Protocol 2 spells builtins ``__builtin__``, as
    Python 2 did."""
    touch = f"open({str(marker)!r}, 'w').close()"
    return [
        ('meta', _Call(open, str(marker), 'w'), 2, f'{open.__module__}.open'),
        ('meta', _Call(open, str(marker), 'w'), 4, f'{open.__module__}.open'),
        ('meta', _Call(exec, touch), 2, '__builtin__.exec'),
        ('meta', _Call(os.system, f'touch {marker}'), 2,
         f'{os.system.__module__}.system'),
        ('meta', _Call(eval, touch), 5, 'builtins.eval'),
        ('batch', _Call(exec, touch), 2, '__builtin__.exec'),
        ('batch', np.array([None, touch], dtype=object), 2,
         "dtype 'object'"),
        ('batch', np.array([None, touch], dtype=object), 5,
         "dtype 'object'"),
        ('meta', _Call(__import__('codecs').encode, touch, 'rot13'), 2,
         "'rot13'"),
    ]


@pytest.mark.parametrize('case', range(9))
def test_crafted_batches_are_refused_without_running_code(tmp_path, case):
    from pixpretrain.registry import explain
    from pixpretrain.utils.errors import PixpretrainError
    marker = tmp_path / 'marker'
    where, value, protocol, named = _crafted_payloads(marker)[case]
    folder = make_cifar10(tmp_path / 'root')
    if where == 'meta':
        path = folder / 'batches.meta'
        obj = {b'label_names': value, b'num_vis': 3072}
    else:
        path = folder / 'data_batch_2'
        obj = _batch(2, 2)
        obj[b'labels'] = [0, value]
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    with pytest.raises(PixpretrainError) as exc_info:
        CIFAR10(str(tmp_path / 'root'), serialize_data=False)
    message = str(exc_info.value)
    assert not marker.exists()
    assert f"'{path}'" in message and named in message, message
    assert '\n' not in message and explain(exc_info.value) == message


def test_a_batch_holding_itself_is_checked_in_finite_time(tmp_path):
    # The memo lets a pickle build cycles; the value check must not walk
    # them forever.
    folder = make_cifar10(tmp_path)
    meta = {b'label_names': CIFAR10_NAMES}
    meta[b'self'] = [meta]
    _dump(folder / 'batches.meta', meta)

    def give_up(signum, frame):
        raise TimeoutError('the value check walked the cycle for 10 s')

    # A regression would otherwise hang the suite instead of failing.
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(10)
    try:
        ds = CIFAR10(str(tmp_path), split='test', serialize_data=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(ds) == 2


def test_a_file_that_is_not_a_pickle_is_named_in_one_line(tmp_path):
    from pixpretrain.utils.errors import PixpretrainError
    folder = make_cifar10(tmp_path)
    (folder / 'test_batch').write_bytes(b'\x80\x02}q\x00(U\x04data')
    with pytest.raises(PixpretrainError) as exc_info:
        CIFAR10(str(tmp_path), split='test')
    message = str(exc_info.value)
    assert str(folder / 'test_batch') in message and '\n' not in message
