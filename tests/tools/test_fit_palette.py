"""tools/dataset_converters/fit_palette.py: k-means and the tool."""
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pixpretrain.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_igpt.py')
fit_palette = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/dataset_converters/fit_palette.py')))


def clusters_around(colours, per_colour=500, noise=3.0, seed=0):
    rng = np.random.default_rng(seed)
    points = [c + rng.uniform(-noise, noise, (per_colour, 3))
              for c in colours]
    return torch.from_numpy(np.concatenate(points).astype(np.float32))


COLOURS = np.array([[20, 20, 20], [230, 40, 40], [40, 200, 60],
                    [60, 60, 220], [240, 240, 240]], dtype=np.float32)


def test_recovers_well_separated_colour_clusters():
    pixels = clusters_around(COLOURS)
    centres = fit_palette.minibatch_kmeans(pixels, 5, iters=50,
                                           batch_size=512)
    # Match each true colour to its nearest centre: one each, close by.
    distances = torch.cdist(torch.from_numpy(COLOURS), centres)
    nearest = distances.argmin(1)
    assert sorted(nearest.tolist()) == [0, 1, 2, 3, 4]
    assert distances.min(1).values.max() < 1.0


def test_as_many_clusters_as_colours_gives_the_colours_exactly():
    pixels = torch.from_numpy(np.repeat(COLOURS, 40, axis=0))
    centres = fit_palette.minibatch_kmeans(pixels, 5, iters=20,
                                           batch_size=64)
    found = sorted(map(tuple, centres.numpy().tolist()))
    assert found == sorted(map(tuple, COLOURS.tolist()))


def test_same_seed_same_palette_other_seed_other_palette():
    pixels = torch.rand(5000, 3) * 255
    first = fit_palette.minibatch_kmeans(pixels, 16, iters=30, seed=3)
    again = fit_palette.minibatch_kmeans(pixels, 16, iters=30, seed=3)
    other = fit_palette.minibatch_kmeans(pixels, 16, iters=30, seed=4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_fewer_distinct_colours_than_clusters_is_refused():
    pixels = torch.from_numpy(np.repeat(COLOURS, 10, axis=0))
    with pytest.raises(ConfigError, match='5 distinct colours, fewer than'):
        fit_palette.minibatch_kmeans(pixels, 8)


@pytest.mark.parametrize('change', [dict(num_clusters=0), dict(iters=0),
                                    dict(batch_size=0)])
def test_a_fit_that_would_not_fit_is_refused(change):
    kwargs = dict(dict(num_clusters=5, iters=10, batch_size=64), **change)
    with pytest.raises(ConfigError, match='each must be 1 or more'):
        fit_palette.minibatch_kmeans(clusters_around(COLOURS), **kwargs)


def test_quantization_error_is_the_mean_distance_to_the_nearest_colour():
    palette = torch.tensor([[0., 0., 0.], [100., 0., 0.]])
    pixels = torch.tensor([[3., 4., 0.], [90., 0., 0.], [100., 0., 0.]])
    assert fit_palette.quantization_error(pixels, palette) == \
        pytest.approx((5 + 10 + 0) / 3)


def test_tool_fits_the_configured_data_and_saves_the_palette(
        tmp_path, capsys):
    out = tmp_path / 'palettes' / 'shapes16'  # no .npy: written as named
    code = fit_palette.main([TINY, '--out', str(out), '--num-images', '16',
                             '--pixels-per-image', '64', '--iters', '20'])
    printed = capsys.readouterr().out
    assert code == 0
    palette = np.load(out)
    assert palette.shape == (16, 3)  # the config's num_colors
    assert (palette >= 0).all() and (palette <= 255).all()
    assert 'mean quantisation error:' in printed
    assert 'at 8 px' in printed  # the ColorQuantize step's size

    # Again: the palette checkpoints were trained with stays unless asked.
    fitted = out.read_bytes()
    argv = [TINY, '--out', str(out), '--num-images', '16', '--iters', '20',
            '--seed', '1']
    assert fit_palette.main(argv) == 1
    assert capsys.readouterr().err == (
        f"error: --out '{out}' exists and checkpoints trained with that "
        'palette read it: pass --overwrite to replace it, or write to '
        'another path\n')
    assert out.read_bytes() == fitted
    assert fit_palette.main(argv + ['--overwrite']) == 0
    assert out.read_bytes() != fitted
    assert [p.name for p in out.parent.iterdir()] == ['shapes16']


def test_tool_without_color_quantize_is_one_clear_line(tmp_path, capsys):
    config = tmp_path / 'no_quantize.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        "train_dataloader = dict(dataset=dict(pipeline=["
        "dict(type='PackInputs')]))\n")
    assert fit_palette.main([str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'no ColorQuantize step' in err
