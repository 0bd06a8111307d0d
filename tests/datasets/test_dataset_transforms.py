"""Pipeline transforms: shapes, dtypes and pixels against hand-made
expectations (slicing, flipping, closed-form crop boxes)."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement
from PIL import Image

from pixpretrain.datasets.transforms import (CenterCrop, LoadImageFromFile,
                                             PackInputs, RandomFlip,
                                             RandomResizedCrop, Resize,
                                             flip_image, image_ops)
from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError, UnreadableImageError


def _image(h: int = 40, w: int = 60, seed: int = 0,
           channels: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, channels),
                                                dtype=np.uint8)


def _results(img: np.ndarray) -> dict:
    return dict(img=img, img_path=None, ori_shape=img.shape[:2],
                img_shape=img.shape[:2])


def test_registry_builds_pixpretrain_classes_not_mmcv_ones():
    for name, cls in [('RandomResizedCrop', RandomResizedCrop),
                      ('RandomFlip', RandomFlip), ('Resize', Resize),
                      ('CenterCrop', CenterCrop),
                      ('LoadImageFromFile', LoadImageFromFile),
                      ('PackInputs', PackInputs)]:
        cfg = dict(type=name)
        if name in ('RandomResizedCrop', 'Resize', 'CenterCrop'):
            cfg['size'] = 8
        assert type(TRANSFORMS.build(cfg)) is cls


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic', 'nearest'])
def test_random_resized_crop_output_size_and_dtype(interpolation):
    out = RandomResizedCrop((24, 20), interpolation=interpolation)(
        _results(_image()))
    assert out['img'].shape == (24, 20, 3)
    assert out['img'].dtype == np.uint8
    assert out['img'].flags['C_CONTIGUOUS']
    assert out['img_shape'] == (24, 20)
    assert out['ori_shape'] == (40, 60)


def test_random_resized_crop_boxes_respect_scale_and_ratio():
    np.random.seed(0)
    height, width = 100, 80
    scale, ratio = (0.2, 0.7), (0.5, 2.0)
    t = RandomResizedCrop(32, scale=scale, ratio=ratio)
    areas, log_ratios = [], []
    for _ in range(3000):
        top, left, h, w = t.get_params(height, width)
        assert 0 <= top and top + h <= height
        assert 0 <= left and left + w <= width
        # w and h are rounded to integers: allow half a pixel each way.
        assert (w + .5) * (h + .5) >= scale[0] * height * width
        assert (w - .5) * (h - .5) <= scale[1] * height * width
        assert (w + .5) / (h - .5) >= ratio[0]
        assert (w - .5) / (h + .5) <= ratio[1]
        areas.append(w * h / (height * width))
        log_ratios.append(math.log(w / h))
    areas, log_ratios = np.array(areas), np.array(log_ratios)
    # The draws spread over the whole range rather than sticking to a point.
    assert areas.min() < 0.25 and areas.max() > 0.6
    assert log_ratios.min() < math.log(0.6)
    assert log_ratios.max() > math.log(1.6)
    # Positions vary too.
    assert len({t.get_params(height, width)[:2] for _ in range(50)}) > 10


def test_random_resized_crop_falls_back_to_ratio_clamped_centre_crop():
    # Every attempt needs w = sqrt(2 * area) > width, so all ten fail.
    t = RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(2.0, 2.0))
    assert t.get_params(30, 30) == (7, 0, 15, 30)
    t = RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(0.5, 0.5))
    assert t.get_params(30, 30) == (0, 7, 30, 15)


def test_random_resized_crop_without_resize_equals_slicing(monkeypatch):
    img = _image()
    t = RandomResizedCrop((10, 12))
    monkeypatch.setattr(t, 'get_params', lambda h, w: (2, 3, 10, 12))
    out = t(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img[2:12, 3:15])
    assert out['crop_bbox'] == (2, 3, 10, 12)


def test_random_resized_crop_follows_numpy_global_seed():
    t = RandomResizedCrop(16)
    np.random.seed(123)
    first = [t.get_params(50, 70) for _ in range(5)]
    np.random.seed(123)
    assert [t.get_params(50, 70) for _ in range(5)] == first


@pytest.mark.parametrize('kwargs', [
    dict(size=8, scale=(0.5, 0.1)),
    dict(size=8, ratio=(0, 1)),
    dict(size=0),
    dict(size=8, interpolation='lanczos'),
])
def test_random_resized_crop_rejects_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        RandomResizedCrop(**kwargs)


def test_random_flip():
    img = _image()
    out = RandomFlip(prob=1.0)(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img[:, ::-1])
    assert out['img'].flags['C_CONTIGUOUS'] and out['flip']
    out = RandomFlip(prob=1.0, direction='vertical')(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img[::-1])
    out = RandomFlip(prob=0.0)(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img)
    assert not out['flip']
    np.random.seed(0)
    flips = [RandomFlip(0.5)(_results(img))['flip'] for _ in range(400)]
    assert 150 < sum(flips) < 250
    with pytest.raises(ConfigError):
        RandomFlip(prob=1.5)


def test_resize_shorter_side_and_exact_size():
    out = Resize(16)(_results(_image(40, 60)))
    assert out['img'].shape == (16, 24, 3) and out['img_shape'] == (16, 24)
    assert Resize(16)(_results(_image(60, 40)))['img'].shape == (24, 16, 3)
    out = Resize((10, 20), interpolation='bicubic')(_results(_image()))
    assert out['img'].shape == (10, 20, 3) and out['img'].dtype == np.uint8
    flat = np.full((40, 60, 3), (10, 200, 90), dtype=np.uint8)
    np.testing.assert_array_equal(
        Resize(16)(_results(flat))['img'],
        np.full((16, 24, 3), (10, 200, 90), dtype=np.uint8))


def test_center_crop_equals_slicing():
    img = _image(20, 30)
    out = CenterCrop(8)(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img[6:14, 11:19])
    assert out['img_shape'] == (8, 8)
    out = CenterCrop((10, 4))(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img[5:15, 13:17])


def test_pack_inputs_with_label():
    img = _image(8, 6)
    results = _results(img)
    results.update(img_path='a.jpg', gt_label=3)
    packed = PackInputs()(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (3, 8, 6) and inputs.dtype == torch.uint8
    assert inputs.is_contiguous()
    assert torch.equal(inputs, torch.from_numpy(img).permute(2, 0, 1))
    assert isinstance(sample, BaseDataElement)
    assert sample.gt_label.dtype == torch.long and sample.gt_label.ndim == 0
    assert int(sample.gt_label) == 3
    assert sample.img_path == 'a.jpg'
    assert sample.ori_shape == (8, 6) and sample.img_shape == (8, 6)


def test_pack_inputs_without_label_and_custom_meta_keys():
    results = _results(_image(8, 6))
    results['flip'] = True
    sample = PackInputs(meta_keys=('flip', 'missing'))(results)['data_samples']
    assert 'gt_label' not in sample
    assert sample.metainfo == {'flip': True}


def test_pack_inputs_rejects_float_images():
    with pytest.raises(TypeError, match='uint8'):
        PackInputs()(_results(_image().astype(np.float32)))


@pytest.mark.parametrize('mode', ['L', 'RGBA', 'P', 'CMYK', 'I;16', 'RGB'])
def test_load_image_converts_every_mode_to_rgb(tmp_path, mode):
    rgb = _image(12, 10)
    if mode == 'I;16':
        gray16 = (np.arange(120, dtype=np.uint16).reshape(12, 10) * 500)
        image = Image.fromarray(gray16)
        assert image.mode == 'I;16'
    elif mode == 'RGBA':
        image = Image.fromarray(np.dstack([rgb, np.full((12, 10), 7,
                                                        np.uint8)]), 'RGBA')
    else:
        image = Image.fromarray(rgb).convert(mode)
    path = tmp_path / ('img.tif' if mode in ('CMYK', 'I;16') else 'img.png')
    image.save(path)
    out = LoadImageFromFile()(dict(img_path=str(path)))
    img = out['img']
    assert img.shape == (12, 10, 3) and img.dtype == np.uint8
    assert out['ori_shape'] == (12, 10) and out['img_shape'] == (12, 10)
    if mode in ('RGB', 'RGBA'):
        np.testing.assert_array_equal(img, rgb)
    elif mode == 'L':
        gray = np.asarray(Image.fromarray(rgb).convert('L'))
        for c in range(3):
            np.testing.assert_array_equal(img[:, :, c], gray)
    elif mode == 'I;16':
        np.testing.assert_array_equal(img[:, :, 0], (gray16 >> 8))


def test_load_image_errors_name_the_file(tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not an image')
    with pytest.raises(UnreadableImageError,
                       match=f"^unreadable image '{bad}': "):
        LoadImageFromFile()(dict(img_path=str(bad)))


@pytest.mark.parametrize('direction', ['horizontal', 'vertical'])
@pytest.mark.parametrize('make', [
    lambda: _image(),                                   # OpenCV path
    lambda: _image()[:, :, 0].copy(),                   # HW, OpenCV path
    lambda: np.random.default_rng(1).random((5, 7, 3)),  # float: numpy
    lambda: np.random.default_rng(1).integers(0, 256, (5, 7, 6), np.uint8),
    lambda: _image()[::2, ::3],                         # a strided view
])
def test_flip_image_equals_reversing_the_axis(make, direction):
    img = make()
    expected = img[:, ::-1] if direction == 'horizontal' else img[::-1]
    out = flip_image(img, direction)
    np.testing.assert_array_equal(out, expected)
    assert out.flags['C_CONTIGUOUS'] and out.dtype == img.dtype


@pytest.mark.parametrize('channels', [1, 3, 4, 5])
@pytest.mark.parametrize('height', [6, 0])
def test_chw_to_hwc_is_the_transpose(channels, height):
    chw = torch.randint(0, 256, (channels, height, 9), dtype=torch.uint8)
    hwc = image_ops._hwc(chw)
    np.testing.assert_array_equal(hwc, chw.permute(1, 2, 0).numpy())
    assert hwc.shape == (height, 9, channels) and hwc.flags['C_CONTIGUOUS']


@pytest.mark.parametrize('make', [
    lambda: np.random.default_rng(2).integers(0, 256, (6, 9, 3), np.uint8),
    lambda: np.random.default_rng(2).integers(0, 256, (6, 9, 4), np.uint8),
    lambda: np.random.default_rng(2).integers(0, 256, (6, 9, 1), np.uint8),
    lambda: np.random.default_rng(2).integers(0, 256, (6, 9, 5), np.uint8),
    lambda: np.random.default_rng(2).random((6, 9, 3)),   # float: numpy
    lambda: np.random.default_rng(2).integers(0, 256, (8, 9, 3),
                                              np.uint8)[::-2],  # a view
    lambda: np.zeros((0, 5, 3), np.uint8),                # empty
])
def test_hwc_to_chw_is_the_transpose(make):
    hwc = make()
    chw = image_ops.hwc_to_chw(hwc)
    np.testing.assert_array_equal(chw, hwc.transpose(2, 0, 1))
    assert chw.flags['C_CONTIGUOUS'] and chw.dtype == hwc.dtype


@pytest.mark.parametrize('mode', ['bilinear', 'bicubic', 'nearest'])
@pytest.mark.parametrize('box, size', [
    ((3, 5, 30, 41), (16, 16)),      # downsampling: the antialiased path
    ((0, 0, 40, 60), (24, 36)),      # the whole image
    ((7, 2, 9, 13), (32, 20)),       # upsampling
])
@pytest.mark.parametrize('channels', [1, 3, 4])
def test_resized_crop_equals_torchvisions(mode, box, size, channels):
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode
    img = _image(channels=channels)
    # torchvision on a dense CHW tensor: its usual input, another layout
    chw = torch.from_numpy(img).permute(2, 0, 1).contiguous()
    expected = TF.resized_crop(chw, *box, list(size),
                               interpolation=InterpolationMode(mode),
                               antialias=True)
    out = image_ops.resized_crop(img, box, size, InterpolationMode(mode))
    np.testing.assert_array_equal(out, expected.permute(1, 2, 0).numpy())
    assert out.flags['C_CONTIGUOUS'] and out.shape == (*size, channels)
