"""CLIP trains through tools/train.py on make_shards output streamed by
WebDatasetStream from a pipe: command, resampled (epoch-less)."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('webdataset')

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_clip.py'
sys.path.insert(0, str(REPO / 'tests' / 'fixtures'))
from caption_shards import write_caption_shards  # noqa: E402


def test_clip_trains_on_a_resampled_pipe_stream(tmp_path):
    shards = write_caption_shards(tmp_path)
    config = tmp_path / 'clip_stream.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        'train_dataloader = dict(\n'
        '    sampler=None, dataset=dict(_delete_=True,\n'
        "        type='WebDatasetStream', resampled=True, shuffle_buffer=8,\n"
        '        length=24,\n'
        f"        urls='pipe:cat {shards}',\n"
        "        pipeline={{_base_.train_dataloader.dataset.pipeline}}))\n")
    train = runpy.run_path(str(REPO / 'tools/train.py'))
    assert train['main']([str(config), '--work-dir', str(tmp_path / 'run'),
                          '--cfg-options', 'experiment_name=stream']) == 0
    (log, ) = (tmp_path / 'run').glob('*/vis_data/scalars.json')
    losses = [json.loads(line)['loss'] for line in
              log.read_text().splitlines() if '"loss"' in line]
    assert len(losses) == 4 and np.all(np.isfinite(losses))
