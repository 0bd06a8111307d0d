"""ColorQuantize and the palette helpers against a naive reference."""
import numpy as np
import pytest
import torch

from pixpretrain.datasets import ColorQuantize, PackInputs, tokens_to_rgb
from pixpretrain.datasets.transforms.color_quantize import (
    find_color_quantize, nearest_color)
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError


@pytest.fixture
def palette_file(tmp_path):
    palette = np.random.default_rng(0).uniform(0, 255, (40, 3))
    path = tmp_path / 'palette.npy'
    np.save(path, palette)
    return str(path), palette


def naive_quantize(img, palette):
    """One pixel, one colour at a time."""
    h, w, _ = img.shape
    out = np.zeros((h, w), np.int64)
    for y in range(h):
        for x in range(w):
            best, best_d = 0, float('inf')
            for k, colour in enumerate(palette):
                d = sum((float(img[y, x, c]) - colour[c])**2
                        for c in range(3))
                if d < best_d:
                    best, best_d = k, d
            out[y, x] = best
    return out


def test_vectorised_quantisation_equals_the_naive_loop(palette_file):
    path, palette = palette_file
    img = np.random.default_rng(1).integers(0, 256, (9, 7, 3), np.uint8)
    results = ColorQuantize(path, size=(9, 7))(dict(img=img.copy()))
    assert results['tokens'].dtype == np.int64
    assert np.array_equal(results['tokens'], naive_quantize(img, palette))
    assert np.array_equal(results['img'], img)  # already at size: untouched


def test_palette_colours_map_to_themselves_and_back():
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [12, 34, 56]],
                       dtype=np.float64)
    ids = torch.tensor([3, 0, 2, 1, 1])
    pixels = torch.from_numpy(palette)[ids]
    assert torch.equal(nearest_color(pixels, torch.from_numpy(palette)), ids)
    rgb = tokens_to_rgb(ids.view(1, 5), palette)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[0], palette[ids.numpy()].astype(np.uint8))


def test_resizes_to_the_configured_grid_and_packs_long_tokens(palette_file):
    path, palette = palette_file
    img = np.random.default_rng(2).integers(0, 256, (32, 24, 3), np.uint8)
    results = ColorQuantize(path, size=16, num_colors=40)(dict(img=img))
    assert results['img'].shape == (16, 16, 3)
    assert results['img_shape'] == (16, 16)
    assert results['tokens'].shape == (16, 16)
    assert results['tokens'].max() < len(palette)
    packed = PackInputs(inputs_key='tokens')(results)
    assert packed['inputs'].dtype == torch.int64
    assert packed['inputs'].shape == (16, 16)
    assert np.array_equal(packed['inputs'].numpy(), results['tokens'])
    assert packed['data_samples'].img_shape == (16, 16)


def test_missing_palette_points_at_fit_palette(tmp_path):
    with pytest.raises(DataRootNotFoundError,
                       match='tools/dataset_converters/fit_palette.py'):
        ColorQuantize(str(tmp_path / 'absent.npy'))


def test_palette_of_the_wrong_size_or_shape_is_refused(palette_file,
                                                       tmp_path):
    path, _ = palette_file
    with pytest.raises(ConfigError, match='has 40 colours but num_colors=512'):
        ColorQuantize(path, num_colors=512)
    flat = tmp_path / 'flat.npy'
    np.save(flat, np.zeros(12))
    with pytest.raises(ConfigError, match=r'\(K, 3\) array'):
        ColorQuantize(str(flat))


def test_pack_inputs_checks_its_key():
    with pytest.raises(ConfigError, match="inputs_key must be 'img' or"):
        PackInputs(inputs_key='pixels')
    with pytest.raises(TypeError, match='put ColorQuantize before it'):
        PackInputs(inputs_key='tokens')(dict(img=np.zeros((2, 2, 3),
                                                          np.uint8)))


def test_find_color_quantize_in_a_pipeline_config():
    pipeline = [dict(type='RandomFlip'), dict(type='ColorQuantize',
                                              palette='p.npy')]
    assert find_color_quantize(pipeline) == (1, pipeline[1])
    with pytest.raises(ConfigError, match='no ColorQuantize step'):
        find_color_quantize(pipeline[:1])


@pytest.mark.parametrize('content, words', [
    (b'', 'is empty; refit it with'),
    (b'not a numpy file', 'is not a .npy array; refit'),
])
def test_unreadable_palette_file_is_one_line(tmp_path, content, words):
    path = tmp_path / 'palette.npy'
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=words) as error:
        ColorQuantize(str(path))
    assert '\n' not in str(error.value)


def test_truncated_palette_file_is_one_line(palette_file, tmp_path):
    path, _ = palette_file
    cut = tmp_path / 'cut.npy'
    cut.write_bytes(open(path, 'rb').read()[:200])
    with pytest.raises(ConfigError, match='is not a readable .npy array'):
        ColorQuantize(str(cut))


@pytest.mark.parametrize('values, words', [
    (np.random.default_rng(0).uniform(0, 1, (16, 3)),
     'the 0-1 scale.*multiply it by 255'),
    (np.full((4, 3), 300.0), 'values from 300 to 300'),
    (np.full((4, 3), -1.0), 'values from -1 to -1'),
    (np.full((4, 3), np.nan), 'NaN or infinite'),
    (np.zeros((0, 3)), r'got shape \(0, 3\)'),
    (np.array([['a', 'b', 'c']]), 'holds no real numbers'),
])
def test_palette_off_the_0_255_scale_is_refused(tmp_path, values, words):
    path = tmp_path / 'palette.npy'
    np.save(path, values)
    with pytest.raises(ConfigError, match=words):
        ColorQuantize(str(path))
