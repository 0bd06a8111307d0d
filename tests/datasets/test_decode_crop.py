import numpy as np
import pytest
from PIL import Image

from pixpretrain.datasets.transforms import (LoadImageFromFile,
                                             LoadRandomResizedCrop,
                                             RandomResizedCrop,
                                             decode_full, decode_reduced,
                                             jpeg_reduction)
from pixpretrain.utils.errors import UnreadableImageError


def _photo(path, size, fmt='JPEG'):
    """A smooth random picture (JPEG compresses it like a photo)."""
    w, h = size
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (h // 25, w // 25, 3), dtype=np.uint8)
    Image.fromarray(small).resize((w, h), Image.BICUBIC).save(
        path, fmt, **({'quality': 90} if fmt == 'JPEG' else {}))
    return str(path)


def _two_step(path, seed, **crop):
    np.random.seed(seed)
    results = LoadImageFromFile()(dict(img_path=path))
    return RandomResizedCrop(**crop)(results)


def _fused(path, seed, **crop):
    np.random.seed(seed)
    return LoadRandomResizedCrop(**crop)(dict(img_path=path))


@pytest.mark.parametrize('crop_hw, factor', [
    ((447, 900), 1), ((448, 448), 2), ((900, 1000), 4), ((1792, 1800), 8),
    ((100, 100), 1)])
def test_reduction_keeps_at_least_the_output_size(crop_hw, factor):
    assert jpeg_reduction(crop_hw, (224, 224)) == factor


def test_reduced_decode_has_ceil_size(tmp_path):
    path = _photo(tmp_path / 'a.jpg', (501, 375))
    with Image.open(path) as image:
        assert decode_reduced(image, 4).shape == (94, 126, 3)
    with Image.open(path) as image:
        assert decode_reduced(image, 1).shape == (375, 501, 3)


@pytest.mark.parametrize('seed', range(4))
def test_imagenet_sized_crops_equal_the_two_step_pipeline(tmp_path, seed):
    # 224 px crops of a 500 x 375 image never allow a reduction: bit-equal.
    path = _photo(tmp_path / 'a.jpg', (500, 375))
    crop = dict(size=224, scale=(0.2, 1.0), interpolation='bicubic')
    fused, ref = _fused(path, seed, **crop), _two_step(path, seed, **crop)
    assert fused['decode_factor'] == 1
    assert fused['crop_bbox'] == ref['crop_bbox']
    assert fused['ori_shape'] == (375, 500)
    np.testing.assert_array_equal(fused['img'], ref['img'])


@pytest.mark.parametrize('seed', range(3))
def test_reduced_decode_matches_full_decode_within_tolerance(tmp_path, seed):
    path = _photo(tmp_path / 'big.jpg', (2000, 1500))
    crop = dict(size=224, scale=(0.5, 1.0), interpolation='bicubic')
    fused, ref = _fused(path, seed, **crop), _two_step(path, seed, **crop)
    assert fused['decode_factor'] >= 2
    assert fused['crop_bbox'] == ref['crop_bbox']
    diff = np.abs(fused['img'].astype(int) - ref['img'].astype(int))
    # Same box; only libjpeg's DCT downscaling differs from decoding in full
    # and resampling (a box misplaced by one reduced pixel fails this).
    assert diff.mean() < 1.0
    assert np.percentile(diff, 99) <= 3


def test_other_formats_decode_in_full(tmp_path):
    path = _photo(tmp_path / 'big.png', (1200, 1000), 'PNG')
    crop = dict(size=224, scale=(0.9, 1.0))
    fused, ref = _fused(path, 1, **crop), _two_step(path, 1, **crop)
    assert fused['decode_factor'] == 1
    np.testing.assert_array_equal(fused['img'], ref['img'])


def test_unreadable_file_raises_naming_it(tmp_path):
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'not a jpeg')
    with pytest.raises(UnreadableImageError,
                       match=f"^unreadable image '{bad}': "):
        LoadRandomResizedCrop(32)(dict(img_path=str(bad)))


@pytest.mark.parametrize('mode', ['L', 'CMYK'])
def test_grayscale_and_cmyk_jpegs_decode_as_pil_converts_them(tmp_path,
                                                              mode):
    # Only YCbCr JPEGs take OpenCV's decoder; the rest keep PIL's conversion.
    path = tmp_path / f'{mode}.jpg'
    Image.open(_photo(tmp_path / 'rgb.jpg', (300, 200))).convert(mode).save(
        path, 'JPEG', quality=90)
    crop = dict(size=128, scale=(0.2, 1.0), interpolation='bicubic')
    fused, ref = _fused(str(path), 3, **crop), _two_step(str(path), 3, **crop)
    assert fused['decode_factor'] == 1 and fused['img'].shape == (128, 128, 3)
    np.testing.assert_array_equal(fused['img'], ref['img'])


def test_full_decode_of_an_rgb_jpeg_has_pil_pixels(tmp_path):
    path = _photo(tmp_path / 'a.jpg', (333, 251))
    with open(path, 'rb') as f:
        data = f.read()
    with Image.open(path) as image:
        expected = np.asarray(image.convert('RGB'))
    with Image.open(path) as image:
        np.testing.assert_array_equal(decode_full(image, data), expected)
