"""CLIP trains through tools/train.py on make_shards output streamed by
WebDatasetStream from a pipe: command, resampled (epoch-less)."""
import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip('webdataset')

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_clip.py'


def test_clip_trains_on_a_resampled_pipe_stream(tmp_path):
    rng = np.random.default_rng(0)
    for name in ('circle', 'square'):
        (tmp_path / 'images' / name).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(
                tmp_path / 'images' / name / f'{i}.jpg')
    make_shards = runpy.run_path(
        str(REPO / 'tools/dataset_converters/make_shards.py'))
    assert make_shards['main']([
        str(tmp_path / 'shards'), '--image-folder', str(tmp_path / 'images'),
        '--templates', 'a photo of a {}.', '--shard-size', '6']) == 0
    config = tmp_path / 'clip_stream.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        'train_dataloader = dict(\n'
        '    sampler=None, dataset=dict(_delete_=True,\n'
        "        type='WebDatasetStream', resampled=True, shuffle_buffer=8,\n"
        '        length=24,\n'
        f"        urls='pipe:cat {tmp_path}/shards/shard-{{000000..000003}}"
        ".tar',\n"
        "        pipeline={{_base_.train_dataloader.dataset.pipeline}}))\n")
    train = runpy.run_path(str(REPO / 'tools/train.py'))
    assert train['main']([str(config), '--work-dir', str(tmp_path / 'run'),
                          '--cfg-options', 'experiment_name=stream']) == 0
    (log, ) = (tmp_path / 'run').glob('*/vis_data/scalars.json')
    losses = [json.loads(line)['loss'] for line in
              log.read_text().splitlines() if '"loss"' in line]
    assert len(losses) == 4 and np.all(np.isfinite(losses))
