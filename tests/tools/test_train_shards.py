"""CLIP on WebDatasetShards (the own tar reader) through tools/train.py: a
stream has no length, and mmengine asks for one to build param schedulers."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_clip.py'
sys.path.insert(0, str(REPO / 'tests' / 'fixtures'))
from caption_shards import write_caption_shards  # noqa: E402

train = runpy.run_path(str(REPO / 'tools/train.py'))


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


def test_with_a_length_it_trains(tmp_path):
    config = shards_config(tmp_path, 'length=24,')
    assert train['main']([str(config), '--work-dir', str(tmp_path / 'run'),
                          '--cfg-options', 'experiment_name=withlen']) == 0
    (log, ) = (tmp_path / 'run').glob('*/vis_data/scalars.json')
    losses = [json.loads(line)['loss'] for line in
              log.read_text().splitlines() if '"loss"' in line]
    assert losses and np.all(np.isfinite(losses))
