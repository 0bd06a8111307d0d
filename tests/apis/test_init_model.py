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


def test_config_and_device_mistakes_are_one_error(tmp_path):
    from pixpretrain.utils.errors import ConfigError, PathNotFoundError
    assert init_model(Path(TINY)).training is False  # a Path is a path
    with pytest.raises(PathNotFoundError, match="'nope.py' does not exist"):
        init_model('nope.py')
    with pytest.raises(ConfigError, match='got dict'):
        init_model(dict(model=dict(type='MAE')))
    with pytest.raises(ConfigError, match="device='gpu': 'gpu' is not a "
                       'device'):
        init_model(TINY, device='gpu')
    with pytest.raises(PathNotFoundError, match='is a folder'):
        init_model(TINY, tmp_path)
