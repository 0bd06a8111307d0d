"""SyntheticShapes: deterministic, balanced, and actually learnable."""
import time

import numpy as np
import pytest

from pixpretrain.datasets import SHAPE_CLASSES, SyntheticShapes, render_shape
from pixpretrain.utils.errors import ConfigError


def _images(ds, n=None):
    n = len(ds) if n is None else n
    infos = [ds.get_data_info(i) for i in range(n)]
    return np.stack([d['img'] for d in infos]), np.array(
        [d['gt_label'] for d in infos])


def test_same_index_same_image_across_instances():
    a = SyntheticShapes(num_samples=40, serialize_data=False)
    b = SyntheticShapes(num_samples=40)
    for i in (0, 7, 39):
        first = a.get_data_info(i)['img']
        assert first.shape == (32, 32, 3) and first.dtype == np.uint8
        np.testing.assert_array_equal(first, a.get_data_info(i)['img'])
        np.testing.assert_array_equal(first, b.get_data_info(i)['img'])
    # A subset keeps each sample's identity, not just its position.
    sub = SyntheticShapes(num_samples=40, indices=[7], serialize_data=False)
    np.testing.assert_array_equal(sub.get_data_info(0)['img'],
                                  a.get_data_info(7)['img'])


def test_seeds_and_splits_give_different_images():
    base, _ = _images(SyntheticShapes(num_samples=50, serialize_data=False))
    other, _ = _images(
        SyntheticShapes(num_samples=50, seed=1, serialize_data=False))
    test, _ = _images(
        SyntheticShapes(num_samples=50, split='test', serialize_data=False))
    assert all(not np.array_equal(x, y) for x, y in zip(base, other))
    flat_train = {img.tobytes() for img in base}
    assert not flat_train & {img.tobytes() for img in test}


def test_classes_balanced_and_metainfo():
    ds = SyntheticShapes(num_samples=95, serialize_data=False)
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    counts = np.bincount(labels, minlength=10)
    assert counts.min() >= 9 and counts.max() <= 10
    assert ds.metainfo['classes'] == SHAPE_CLASSES
    assert len(set(SHAPE_CLASSES)) == 10


def _features(images: np.ndarray) -> np.ndarray:
    # Luminance, normalised per image, then the FFT magnitude: invariant
    # to colour and position, so only the pattern's kind is left.
    gray = images.astype(np.float32).mean(-1)
    gray = (gray - gray.mean((1, 2), keepdims=True)) / (
        gray.std((1, 2), keepdims=True) + 1e-6)
    return np.abs(np.fft.rfft2(gray)).reshape(len(images), -1)


def test_all_ten_classes_are_distinct_and_learnable():
    train_x, train_y = _images(
        SyntheticShapes(num_samples=500, serialize_data=False))
    test_x, test_y = _images(
        SyntheticShapes(num_samples=200, split='test', serialize_data=False))
    feats = _features(train_x)
    centroids = np.stack([feats[train_y == c].mean(0) for c in range(10)])
    dists = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
    assert dists[~np.eye(10, dtype=bool)].min() > 1.0
    pred = np.linalg.norm(
        _features(test_x)[:, None] - centroids[None], axis=-1).argmin(1)
    for c in range(10):
        assert (pred[test_y == c] == c).mean() >= 0.7, SHAPE_CLASSES[c]
    assert (pred == test_y).mean() >= 0.9
    # Colours and positions vary: raw class-mean images are not templates.
    assert train_x[train_y == 0].std(0).mean() > 30


def test_generation_is_vectorised():
    render_shape(0, 0, 0)
    start = time.perf_counter()
    for i in range(500):
        render_shape(0, 0, i)
    per_image = (time.perf_counter() - start) / 500
    # ~50 us here; a per-pixel Python loop would take milliseconds.
    assert per_image < 1e-3


def test_other_sizes_and_pipeline():
    ds = SyntheticShapes(num_samples=10, img_size=48, pipeline=[
        dict(type='RandomResizedCrop', size=24),
        dict(type='PackInputs')
    ])
    out = ds[3]
    assert out['inputs'].shape == (3, 24, 24)
    assert int(out['data_samples'].gt_label) == 3
    assert out['data_samples'].ori_shape == (48, 48)


@pytest.mark.parametrize('kwargs', [
    dict(num_samples=0), dict(img_size=4), dict(seed=-1), dict(seed=2**32),
    dict(split='val')
])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        SyntheticShapes(**kwargs)
