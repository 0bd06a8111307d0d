import pytest
import torch
from torch import nn

from pixpretrain.utils import CheckpointError, load_pretrained


class Pretrainer(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
        self.neck = nn.Linear(4, 2)


def save(tmp_path, state, wrap='state_dict'):
    path = tmp_path / 'ckpt.pth'
    torch.save({wrap: state} if wrap else state, path)
    return str(path)


@pytest.mark.parametrize('wrap', ['state_dict', 'model', None])
def test_loads_the_backbone_and_reports_skipped_keys(tmp_path, wrap):
    source = Pretrainer()
    path = save(tmp_path, source.state_dict(), wrap)
    target = Pretrainer().backbone
    loaded = load_pretrained(target, path, prefix='backbone.')
    assert torch.equal(target[0].weight, source.backbone[0].weight)
    assert loaded.skipped == ['neck.bias', 'neck.weight']
    assert len(loaded.loaded) == 4


def test_ddp_prefix_is_stripped(tmp_path):
    source = Pretrainer()
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    target = Pretrainer().backbone
    load_pretrained(target, save(tmp_path, state), prefix='backbone.')
    assert torch.equal(target[1].bias, source.backbone[1].bias)


def test_every_wrong_key_is_listed(tmp_path):
    state = Pretrainer().state_dict()
    state.pop('backbone.1.weight')
    state['backbone.2.weight'] = torch.zeros(1)
    state['backbone.0.bias'] = torch.zeros(5)
    target = Pretrainer().backbone
    before = target[0].weight.clone()
    with pytest.raises(CheckpointError) as error:
        load_pretrained(target, save(tmp_path, state), prefix='backbone.')
    message = str(error.value)
    assert 'missing backbone.1.weight' in message
    assert 'unexpected backbone.2.weight' in message
    assert 'backbone.0.bias (5,) vs (4,)' in message
    assert torch.equal(target[0].weight, before)   # nothing half-loaded


def test_a_checkpoint_without_the_prefix_fails(tmp_path):
    path = save(tmp_path, {'encoder.weight': torch.zeros(2)})
    with pytest.raises(CheckpointError, match="starts with 'backbone.'"):
        load_pretrained(Pretrainer().backbone, path)
