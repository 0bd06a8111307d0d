import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from pixpretrain.datasets import (ColorJitter, GaussianBlur, MultiView,
                                  PackInputs, RandomGrayscale, Solarize,
                                  build_pipeline)
from pixpretrain.models import PixelDataPreprocessor
from pixpretrain.utils.errors import ConfigError

MOCO_V2_VIEW = [
    dict(type='RandomResizedCrop', size=24, scale=(0.2, 1.0)),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='GaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Solarize', prob=0.2),
]


def _image(h=40, w=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3),
                                                dtype=np.uint8)


def _run(pipeline, img):
    results = dict(img=img)
    for t in pipeline:
        results = t(results)
    return results['img']


def test_moco_v2_view_is_uint8_of_the_crop_size_and_seeded():
    pipeline = build_pipeline(MOCO_V2_VIEW)
    np.random.seed(3)
    first = [_run(pipeline, _image()) for _ in range(5)]
    np.random.seed(3)
    second = [_run(pipeline, _image()) for _ in range(5)]
    for a, b in zip(first, second):
        assert a.dtype == np.uint8 and a.shape == (24, 24, 3)
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


def test_color_jitter_brightness_scales_pixels():
    jitter = ColorJitter(brightness=0.4, contrast=0, saturation=0, hue=0,
                         prob=1.0)
    img = np.full((4, 4, 3), 100, dtype=np.uint8)
    np.random.seed(0)
    _, _, factors = jitter.get_params()
    np.random.seed(0)
    out = jitter(dict(img=img))['img']
    assert 0.6 <= factors[0] <= 1.4
    # torchvision truncates uint8 results (PIL rounds).
    assert np.all(out == np.uint8(min(255, int(100 * factors[0]))))


def test_probability_zero_is_the_identity_and_one_always_applies():
    img = _image()
    for transform in (ColorJitter(prob=0.0), RandomGrayscale(prob=0.0),
                      GaussianBlur(prob=0.0), Solarize(prob=0.0)):
        assert np.array_equal(transform(dict(img=img.copy()))['img'], img)
    gray = RandomGrayscale(prob=1.0)(dict(img=img.copy()))['img']
    luma = img.astype(np.float64) @ np.array([0.2989, 0.587, 0.114])
    assert np.all(gray[..., 0] == gray[..., 2])
    # ITU-R 601 luma (torchvision's weights), truncated to uint8.
    error = luma - gray[..., 0]
    assert error.min() > -1e-3 and error.max() < 1 + 1e-3


def test_solarize_inverts_values_above_the_threshold():
    img = np.array([[[0, 127, 128]], [[200, 255, 50]]], dtype=np.uint8)
    out = Solarize(threshold=128, prob=1.0)(dict(img=img.copy()))['img']
    assert out.tolist() == [[[0, 127, 127]], [[55, 0, 50]]]


def test_blur_keeps_flat_images_and_spreads_an_impulse():
    flat = np.full((9, 9, 3), 77, dtype=np.uint8)
    blur = GaussianBlur(sigma=(1.0, 1.0), prob=1.0)
    assert np.array_equal(blur(dict(img=flat))['img'], flat)
    impulse = np.zeros((9, 9, 3), dtype=np.uint8)
    impulse[4, 4] = 255
    out = blur(dict(img=impulse))['img'].astype(int)
    # sigma 1: the centre keeps 1 / (2 pi) of the mass, about 40 of 255.
    assert abs(out[4, 4, 0] - 255 / (2 * np.pi)) <= 3
    assert out[4, 3, 0] == out[3, 4, 0] == out[5, 4, 0] > out[3, 3, 0] > 0
    tiny = GaussianBlur(sigma=(2.0, 2.0), prob=1.0)(
        dict(img=np.zeros((3, 3, 3), np.uint8)))['img']
    assert tiny.shape == (3, 3, 3)


def test_multi_view_packs_and_preprocesses_a_list_of_views():
    pipeline = [MultiView(transforms=[MOCO_V2_VIEW], num_views=2),
                PackInputs()]
    samples = []
    for seed in range(3):
        results = dict(img=_image(seed=seed), gt_label=seed)
        for t in pipeline:
            results = t(results)
        samples.append(results)
    assert len(samples[0]['inputs']) == 2
    assert samples[0]['inputs'][0].shape == (3, 24, 24)
    assert not torch.equal(*samples[0]['inputs'])
    assert samples[0]['data_samples'].img_shape == [(24, 24), (24, 24)]
    batch = default_collate(samples)
    out = PixelDataPreprocessor()(batch)['inputs']
    assert [tuple(v.shape) for v in out] == [(3, 3, 24, 24)] * 2
    assert out[0].dtype == torch.float32


def test_multi_view_with_one_pipeline_per_view():
    small = [dict(type='Resize', size=(8, 8))]
    large = [dict(type='Resize', size=(16, 12))]
    out = MultiView(transforms=[small, large], num_views=[2, 1])(
        dict(img=_image()))
    assert [v.shape for v in out['img']] == [(8, 8, 3), (8, 8, 3),
                                             (16, 12, 3)]
    with pytest.raises(ConfigError, match='names 1 pipelines'):
        MultiView(transforms=[small, large], num_views=2)


@pytest.mark.parametrize('build, key', [
    (lambda: ColorJitter(hue=0.6), 'hue'),
    (lambda: ColorJitter(prob=1.5), 'prob'),
    (lambda: GaussianBlur(sigma=(2.0, 1.0)), 'sigma'),
    (lambda: GaussianBlur(kernel_size=4), 'kernel_size'),
    (lambda: Solarize(threshold=300), 'threshold'),
])
def test_invalid_augmentation_settings(build, key):
    with pytest.raises(ConfigError, match=key):
        build()
