from pathlib import Path

import pytest
import torch

from pixpretrain.apis import init_model
from pixpretrain.utils import CheckpointError

TINY = str(Path(__file__).resolve().parents[1] / 'fixtures' / 'tiny_mae.py')


def test_init_model_loads_weights_strictly(tmp_path):
    model = init_model(TINY)
    assert not model.training
    for p in model.parameters():
        torch.nn.init.constant_(p, 0.5)
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    loaded = init_model(TINY, str(path))
    assert torch.all(loaded.backbone.cls_token == 0.5)

    del_key = dict(model.state_dict())
    del_key.pop('head.dummy', None)
    del_key['backbone.extra'] = torch.zeros(1)
    torch.save({'state_dict': del_key}, path)
    with pytest.raises(CheckpointError,
                       match=r'does not fit .*unexpected backbone\.extra'):
        init_model(TINY, str(path))


def test_init_model_refuses_non_checkpoints(tmp_path):
    path = tmp_path / 'x.pth'
    path.write_text('text')
    with pytest.raises(CheckpointError):
        init_model(TINY, str(path))
