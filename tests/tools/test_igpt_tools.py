"""iGPT end to end: train with both heads, complete images, palette report,
sampling-speed tool (tiny configs, seconds each, CPU)."""
import json
import math
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from pixpretrain.apis.analysis import igpt_sampling_speed, palette_report

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_igpt.py')
igpt_complete = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/igpt_complete.py')))
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def palette_option(path) -> str:
    return f'train_dataloader.dataset.pipeline.0.palette={path}'


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 16-colour palette and a 4-iteration AR + BERT checkpoint."""
    work = tmp_path_factory.mktemp('igpt')
    palette = np.random.default_rng(0).uniform(0, 255, (16, 3))
    np.save(work / 'palette.npy', palette)
    code = train_tool.main([
        TINY, '--work-dir', str(work), '--cfg-options',
        palette_option(work / 'palette.npy'), 'experiment_name=igpt_tools'
    ])
    assert code == 0
    return work, palette


def test_training_logs_both_losses_and_bits_per_dim(trained):
    work, _ = trained
    assert (work / 'iter_4.pth').is_file()
    (log, ) = work.glob('*/vis_data/scalars.json')
    records = [json.loads(line) for line in log.read_text().splitlines()]
    first = records[0]
    assert {'loss', 'loss_ar', 'loss_bert', 'bits_per_dim'} <= set(first)
    assert first['loss'] == pytest.approx(first['loss_ar'] +
                                          first['loss_bert'], rel=1e-3)
    assert first['bits_per_dim'] == pytest.approx(
        first['loss_ar'] / math.log(2), rel=1e-3)


def test_joint_fine_tune_loads_the_pretrained_parts_and_validates(trained,
                                                               capfd):
    work, _ = trained
    tuned = work / 'finetune'
    code = train_tool.main([
        str(REPO / 'tests' / 'fixtures' / 'tiny_igpt_clf.py'), '--work-dir',
        str(tuned), '--cfg-options', palette_option(work / 'palette.npy'),
        f'val_dataloader.dataset.pipeline.0.palette={work / "palette.npy"}',
        f'load_from={work / "iter_4.pth"}', 'experiment_name=igpt_clf'
    ])
    assert code == 0
    log = capfd.readouterr().out
    # The pretraining checkpoint holds the backbone and both generative
    # heads: the classifier is all that is missing, the BERT head all that
    # is left over.
    missing = log.split('missing keys in source state_dict: ')[1]
    assert missing.splitlines()[0].strip() == \
        'head.clf.fc.weight, head.clf.fc.bias'
    assert 'head.bert.proj.weight' in log.split('unexpected key')[1]
    (scalars, ) = tuned.glob('*/vis_data/scalars.json')
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    first = records[0]
    assert first['loss'] == pytest.approx(first['loss_ar'] +
                                          first['loss_clf'], rel=1e-3)
    # The zero-initialised classifier starts at ln 10.
    assert first['loss_clf'] == pytest.approx(math.log(10), abs=1e-3)
    (val, ) = [r for r in records if 'accuracy/top1' in r]
    assert 0.0 <= val['accuracy/top1'] <= val['accuracy/top5'] <= 100.0


def test_missing_palette_is_one_line_naming_fit_palette(tmp_path, capsys):
    code = train_tool.main([
        TINY, '--work-dir', str(tmp_path), '--cfg-options',
        palette_option(tmp_path / 'absent.npy'), 'experiment_name=nopal'
    ])
    err = capsys.readouterr().err
    assert code == 1
    assert 'absent.npy' in err
    assert 'tools/dataset_converters/fit_palette.py' in err


def test_completion_keeps_the_top_half_and_writes_the_grid(trained, capsys):
    work, palette = trained
    out = work / 'grid.png'
    code = igpt_complete.main([
        TINY, str(work / 'iter_4.pth'), '--num-images', '2',
        '--num-samples', '3', '--top-k', '8', '--scale', '1', '--out',
        str(out), '--cfg-options', palette_option(work / 'palette.npy')
    ])
    assert code == 0
    assert str(out) in capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    # 2 rows of 8 px, 5 panels (original, kept half, 3 completions) of
    # 8 px, 2 px gaps.
    assert grid.shape == (2 * 10 - 2, 5 * 10 - 2, 3)
    row = grid[:8]
    panels = [row[:, i * 10:i * 10 + 8] for i in range(5)]
    for panel in panels[1:]:  # every panel shows the kept top half
        assert np.array_equal(panel[:4], panels[0][:4])
    assert (panels[1][4:] == 128).all()  # the removed half is grey
    colours = {tuple(c) for c in np.rint(palette).astype(np.uint8)}
    completed = {tuple(c) for c in panels[2][4:].reshape(-1, 3)}
    assert completed <= colours  # completions are palette colours


def test_completion_grid_layout_by_hand():
    from pixpretrain.models.utils.pictures import completion_grid
    palette = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.float64)
    tokens = np.array([[[0, 1], [1, 0]]])  # (1, 2, 2)
    samples = np.array([[[[0, 1], [0, 0]]]])  # (1, 1, 2, 2)
    grid = completion_grid(tokens, samples, 1, palette)
    assert grid.shape == (2, 3 * 4 - 2, 3)
    assert grid[:, :2, 0].tolist() == [[0, 255], [255, 0]]  # original
    assert grid[:, 4:6, 0].tolist() == [[0, 255], [128, 128]]  # kept half
    assert grid[:, 8:10, 0].tolist() == [[0, 255], [0, 0]]  # completion


def test_palette_report_measures_round_trip_and_entropy(trained, tmp_path):
    work, palette = trained
    result = palette_report.palette_report(palette_report.parse_args([
        TINY, '--num-images', '8', '--png', str(tmp_path / 'rt.png'),
        '--show', '3', '--scale', '1', '--cfg-options',
        palette_option(work / 'palette.npy')
    ]))
    assert result['images'] == 8 and result['num_colors'] == 16
    assert 0 < result['unigram_entropy_nats'] <= math.log(16) + 1e-9
    assert result['unigram_entropy_bits'] == pytest.approx(
        result['unigram_entropy_nats'] / math.log(2))
    assert result['round_trip_mean_rgb_distance'] > 0
    assert np.asarray(Image.open(tmp_path / 'rt.png')).shape == (
        2 * 8 + 2, 3 * 8 + 2 * 2, 3)


def test_unigram_entropy_by_hand():
    counts = np.array([1, 1, 2, 0])
    expected = -(0.25 * math.log(0.25) * 2 + 0.5 * math.log(0.5))
    assert palette_report.unigram_entropy(counts) == pytest.approx(expected)


def test_sampling_speed_tool_checks_cached_equals_uncached():
    args = igpt_sampling_speed.parse_args(
        ['--arch', 'nano', '--img-size', '4', '--num-colors', '16'])
    result = igpt_sampling_speed.sampling_speed(args)
    assert result['same_tokens'] is True
    assert result['sequence_length'] == 16
    assert result['cached_s'] > 0 and result['uncached_s'] > 0
