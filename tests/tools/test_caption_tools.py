"""Captioning end to end through tools/train.py."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TINY_CAPTIONER = str(REPO / 'tests' / 'fixtures' / 'tiny_captioner.py')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def scalars(work_dir):
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_captioner_trains_and_logs_its_caption_loss(tmp_path):
    assert train_tool.main([
        TINY_CAPTIONER, '--work-dir', str(tmp_path), '--cfg-options',
        'experiment_name=captioner_tiny'
    ]) == 0
    assert (tmp_path / 'iter_4.pth').is_file()
    losses = [r['loss_caption'] for r in scalars(tmp_path)
              if 'loss_caption' in r]
    assert len(losses) == 4 and all(np.isfinite(losses))
    # Bytes of 259 ids: an untrained decoder starts near ln(259) = 5.56.
    assert 4.0 < losses[0] < 7.0
