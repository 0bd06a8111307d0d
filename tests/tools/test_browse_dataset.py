"""tools/analysis/browse_dataset.py on the tiny configs' synthetic data: the
picture's size (rows x panels), MoCo's two different views, MAE's mask."""
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from pixpretrain.apis.analysis.browse import browse_picture

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
tool = SimpleNamespace(
    **runpy.run_path(str(REPO / 'tools/analysis/browse_dataset.py')))


def panels(picture, rows, cols, size=32, scale=1, gap=2):
    """Cut a tile()d picture back into its (rows, cols) panels."""
    step = (size + gap) * scale
    return [[picture[r * step:r * step + size * scale,
                     c * step:c * step + size * scale]
             for c in range(cols)] for r in range(rows)]


def test_moco_png_has_two_different_views_per_image(tmp_path, capsys):
    config = str(FIXTURES / 'tiny_moco.py')
    assert tool.main([config, '--output-dir', str(tmp_path),
                      '--num-images', '3', '--scale', '2']) == 0
    path = tmp_path / 'browse_tiny_moco.png'
    assert f'picture: {path}' in capsys.readouterr().out
    picture = np.asarray(Image.open(path))
    # 3 rows, 2 views of 32 px, 2 px gaps, all scaled by 2.
    assert picture.shape == ((3 * 32 + 2 * 2) * 2, (2 * 32 + 2) * 2, 3)
    for first, second in panels(picture, 3, 2, scale=2):
        assert not np.array_equal(first, second)


def test_mae_masked_column_greys_three_quarters_of_the_patches():
    cfg = Config.fromfile(str(FIXTURES / 'tiny_mae.py'))
    picture = browse_picture(cfg, num_images=2, scale=1)
    assert picture.shape == (2 * 32 + 2, 2 * 32 + 2, 3)
    mean = np.array(cfg.model.data_preprocessor.get(
        'mean', (123.675, 116.28, 103.53)))
    patch = cfg.model.backbone.get('patch_size', 16)
    for crop, masked in panels(picture, 2, 2):
        grey = np.abs(masked.astype(float) - mean.round()).max(-1) <= 1
        # A patch is either all grey (removed) or the crop's own pixels.
        cells = grey.reshape(32 // patch, patch, 32 // patch, patch)
        removed = cells.all(axis=(1, 3))
        assert removed.mean() == pytest.approx(cfg.model.get(
            'mask_ratio', 0.75), abs=1 / removed.size)
        keep = ~np.repeat(np.repeat(removed, patch, 0), patch, 1)
        assert np.array_equal(crop[keep], masked[keep])


def test_clip_writes_captions_under_the_images():
    cfg = Config.fromfile(str(FIXTURES / 'tiny_clip.py'))
    picture = browse_picture(cfg, num_images=2, scale=4)
    # One column of 128 px images, each with text on white below it.
    assert picture.shape[1] == 128
    assert picture.shape[0] > 2 * 128
    strip = picture[128:140]
    assert (strip < 128).any() and (strip == 255).any()


def test_config_without_training_data_is_one_line(tmp_path, capsys):
    config = tmp_path / 'no_data.py'
    config.write_text("_base_ = ['%s']\ntrain_dataloader = None\n"
                      % (FIXTURES / 'tiny_mae.py'))
    assert tool.main([str(config), '--output-dir', str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'train_dataloader' in err
