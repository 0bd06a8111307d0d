"""``indices=N``: a class-balanced subset where labels are known."""
import collections
import pickle

import numpy as np
import pytest
from PIL import Image

from pixpretrain.datasets import (CIFAR10, ImageFolder, SyntheticShapes,
                                  class_balanced_indices)


def _counts(ds) -> dict:
    return dict(collections.Counter(
        ds.get_data_info(i)['gt_label'] for i in range(len(ds))))


def test_balanced_indices_by_hand():
    # Sorted by class: 5 of class 0, 3 of 1, 1 of 2, 4 of 3.
    labels = [0] * 5 + [1] * 3 + [2] + [3] * 4
    # 7 over 4 classes: 1 each plus 3 for classes 0, 1, 2; class 2 has only
    # one, so its spare goes to the smallest open label, class 0.
    assert class_balanced_indices(labels, 7) == [0, 1, 2, 5, 6, 8, 9]
    # Negative: the last samples of each class, as mmengine's -N.
    assert class_balanced_indices(labels, -7) == [2, 3, 4, 6, 7, 8, 12]
    assert class_balanced_indices(labels, 0) == []
    assert class_balanced_indices(labels, 99) == list(range(13))
    # Unsorted labels: order within the result is the data set's.
    assert class_balanced_indices([2, 0, 2, 1, 0, 1], 3) == [0, 1, 3]


@pytest.fixture
def sorted_folder(tmp_path):
    """Three classes, listed class by class: 4 ants, 4 bees, 3 cats."""
    root = tmp_path / 'train'
    for name, count in (('ant', 4), ('bee', 4), ('cat', 3)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new('RGB', (2, 2)).save(root / name / f'{i}.png')
    return root


@pytest.mark.parametrize('serialize', [False, True])
def test_image_folder_int_indices_are_class_balanced(sorted_folder,
                                                     serialize):
    ds = ImageFolder(str(sorted_folder), indices=7, serialize_data=serialize)
    # 7 // 3 = 2 each, the remaining 1 to the smallest label (ant); the
    # first N would have been 4 ants and 3 bees.
    assert _counts(ds) == {0: 3, 1: 2, 2: 2}
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    assert paths == sorted(paths)  # listing order kept
    assert [p.rsplit('/', 2)[-2:] for p in paths[:4]] == [
        ['ant', '0.png'], ['ant', '1.png'], ['ant', '2.png'],
        ['bee', '0.png']]


@pytest.mark.parametrize('serialize', [False, True])
def test_get_subset_with_an_int_is_class_balanced(sorted_folder, serialize):
    full = ImageFolder(str(sorted_folder), serialize_data=serialize)
    assert _counts(full.get_subset(5)) == {0: 2, 1: 2, 2: 1}
    assert _counts(full.get_subset(-4)) == {0: 2, 1: 1, 2: 1}
    full.get_subset_(3)
    assert _counts(full) == {0: 1, 1: 1, 2: 1}


def test_sequence_indices_are_kept_exactly(sorted_folder):
    ds = ImageFolder(str(sorted_folder), indices=[5, 0, 5],
                     serialize_data=False)
    assert [ds.get_data_info(i)['img_path'].rsplit('/', 2)[-2:]
            for i in range(3)] == [['bee', '1.png'], ['ant', '0.png'],
                                   ['bee', '1.png']]


def test_unlabelled_folder_keeps_the_first_n(sorted_folder):
    ds = ImageFolder(str(sorted_folder), with_label=False, indices=5,
                     serialize_data=False)
    full = ImageFolder(str(sorted_folder), with_label=False,
                       serialize_data=False)
    assert [ds.get_data_info(i)['img_path'] for i in range(5)] == \
        [full.get_data_info(i)['img_path'] for i in range(5)]


def test_cifar_int_indices_are_class_balanced(tmp_path):
    # Batch k holds 4 images of class k - 1, so the first 12 samples would
    # be classes 0, 1 and 2 only.
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    for k in range(1, 6):
        batch = {b'data': np.full((4, 3072), k, dtype=np.uint8),
                 b'labels': [k - 1] * 4, b'batch_label': b'fake'}
        (folder / f'data_batch_{k}').write_bytes(pickle.dumps(batch, 2))
    (folder / 'test_batch').write_bytes(pickle.dumps(batch, 2))
    (folder / 'batches.meta').write_bytes(pickle.dumps(
        {b'label_names': [b'c%d' % i for i in range(10)]}, 2))
    ds = CIFAR10(str(tmp_path), indices=12)
    # 12 over the 5 classes present: 2 each, the remaining 2 to 0 and 1.
    assert _counts(ds) == {0: 3, 1: 3, 2: 2, 3: 2, 4: 2}
    # Each image still matches its label (batch k is filled with k).
    assert all(int(ds.get_data_info(i)['img'][0, 0, 0]) ==
               ds.get_data_info(i)['gt_label'] + 1 for i in range(len(ds)))


def test_synthetic_shapes_keep_their_balanced_first_n():
    ds = SyntheticShapes(num_samples=40, indices=13, serialize_data=False)
    assert [ds.get_data_info(i)['sample_key'] for i in range(13)] == \
        list(range(13))
