"""Training on WebDatasetShards (the own tar reader) through tools/train.py:
CLIP on caption shards, MAE on image-only ones. A stream has no length, and
mmengine asks for one to build param schedulers."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_clip.py'
TINY_MAE = REPO / 'tests' / 'fixtures' / 'tiny_mae.py'
sys.path.insert(0, str(REPO / 'tests' / 'fixtures'))
from caption_shards import write_caption_shards  # noqa: E402

train = runpy.run_path(str(REPO / 'tools/train.py'))
make_shards = runpy.run_path(
    str(REPO / 'tools/dataset_converters/make_shards.py'))


def shards_config(tmp_path, length_line):
    shards = write_caption_shards(tmp_path)
    config = tmp_path / 'clip_shards.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        'train_dataloader = dict(\n'
        '    sampler=None, dataset=dict(_delete_=True,\n'
        f"        type='WebDatasetShards', shards='{shards}', {length_line}\n"
        "        pipeline={{_base_.train_dataloader.dataset.pipeline}}))\n")
    return config


def test_without_a_length_one_line_names_the_key(tmp_path, capsys):
    config = shards_config(tmp_path, '')
    assert train['main']([str(config), '--work-dir', str(tmp_path / 'run'),
                          '--cfg-options', 'experiment_name=nolen']) == 1
    (line, ) = capsys.readouterr().err.strip().splitlines()
    assert 'WebDatasetShards has no length' in line
    assert 'train_dataloader.dataset.length' in line


def logged_losses(work_dir: Path) -> list:
    (log, ) = work_dir.glob('*/vis_data/scalars.json')
    return [json.loads(line)['loss'] for line in
            log.read_text().splitlines() if '"loss"' in line]


def test_with_a_length_it_trains(tmp_path):
    config = shards_config(tmp_path, 'length=24,')
    assert train['main']([str(config), '--work-dir', str(tmp_path / 'run'),
                          '--cfg-options', 'experiment_name=withlen']) == 0
    losses = logged_losses(tmp_path / 'run')
    assert losses and np.all(np.isfinite(losses))


def test_mae_trains_on_image_only_shards(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / 'images').mkdir()
    for i in range(16):  # a flat folder: no classes, no captions
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(
            tmp_path / 'images' / f'{i}.jpg')
    assert make_shards['main']([
        str(tmp_path / 'shards'), '--image-folder', str(tmp_path / 'images'),
        '--no-captions', '--shard-size', '8']) == 0
    config = tmp_path / 'mae_shards.py'
    config.write_text(
        f"_base_ = ['{TINY_MAE}']\n"
        'train_dataloader = dict(\n'
        '    sampler=None, dataset=dict(_delete_=True,\n'
        "        type='WebDatasetShards', with_captions=False, length=16,\n"
        f"        shards='{tmp_path}/shards/shard-{{000000..000001}}.tar',\n"
        "        pipeline={{_base_.train_dataloader.dataset.pipeline}}))\n"
        'train_cfg = dict(max_iters=4)\n')
    assert train['main']([str(config), '--work-dir', str(tmp_path / 'run'),
                          '--cfg-options', 'experiment_name=mae']) == 0
    losses = logged_losses(tmp_path / 'run')
    assert len(losses) == 4 and np.all(np.isfinite(losses))
