"""Loss curves and pictures in TensorBoard (runs when tensorboard is
installed: pip install -e ".[tensorboard]")."""
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip('tensorboard')
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'fixtures' / 'tiny_mae.py'
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def test_losses_lr_and_reconstructions_reach_tensorboard(tmp_path):
    # The snippet of docs/tools.md, on the tiny MAE.
    config = tmp_path / 'tb.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        "visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),\n"
        "    dict(type='TensorboardVisBackend')])\n"
        "custom_hooks = [dict(type='ReconstructionHook', interval=4,\n"
        "                     num_images=2)]\n")
    assert train_tool.main([str(config), '--work-dir', str(tmp_path / 'w'),
                            '--cfg-options', 'experiment_name=tb']) == 0
    (events, ) = (tmp_path / 'w').glob('*/vis_data/events.out.tfevents.*')
    board = EventAccumulator(str(events), size_guidance={'images': 0})
    board.Reload()
    tags = board.Tags()
    assert {'loss', 'lr'} <= set(tags['scalars'])
    assert [e.step for e in board.Scalars('loss')] == list(range(1, 9))
    assert tags['images'] == ['reconstructions']
    images = board.Images('reconstructions')
    assert [e.step for e in images] == [4, 8]
    # 2 images of 32 px, 4 columns, upscaled x4.
    assert (images[0].height, images[0].width) == (2 * 32 * 4, 4 * 32 * 4)
