"""CIFAR-10/100 from tiny fake batches written in the official format."""
import os
import pickle

import numpy as np
import pytest
import torch

from pixpretrain.datasets import CIFAR10, CIFAR100
from pixpretrain.utils.errors import DataRootNotFoundError

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
    with pytest.raises(ValueError, match='10 class folders'):
        CIFAR100(str(tmp_path), split='test')
