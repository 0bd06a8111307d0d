"""torchvision ResNet -> pixpretrain ResNet, on torchvision's own layout."""
import pytest
import torch
import torchvision

from pixpretrain.models import backbones
from pixpretrain.models.converters import (ConversionError, resnet_depth_of,
                                           torchvision_to_pixpretrain_resnet)

ARCHS = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}


@pytest.fixture(scope='module', params=sorted(ARCHS))
def torchvision_resnet(request):
    torch.manual_seed(0)
    return request.param, ARCHS[request.param](weights=None).eval()


def test_every_tensor_but_the_classifier_lands(torchvision_resnet):
    depth, model = torchvision_resnet
    state = model.state_dict()
    converted, left_out = torchvision_to_pixpretrain_resnet(state)
    assert set(left_out) == {'fc.weight', 'fc.bias'}
    assert list(converted) == [f'backbone.{k}' for k in state
                               if not k.startswith('fc.')]
    for key, tensor in converted.items():
        assert tensor is state[key[len('backbone.'):]]
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()}
    assert resnet_depth_of(backbone) == depth


def test_a_foreign_key_is_refused():
    state = torchvision.models.resnet18(weights=None).state_dict()
    state['layer5.0.conv1.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError, match='layer5.0.conv1.weight'):
        torchvision_to_pixpretrain_resnet(state)


def test_loads_into_pixpretrain_resnet_and_computes_the_same(
        torchvision_resnet):
    ResNet = getattr(backbones, 'ResNet', None)
    if ResNet is None:
        pytest.skip('pixpretrain.models.backbones.ResNet is not on this '
                    'branch')
    depth, model = torchvision_resnet
    converted, _ = torchvision_to_pixpretrain_resnet(model.state_dict())
    ours = ResNet(depth=depth).eval()
    ours.load_state_dict(
        {k[len('backbone.'):]: v for k, v in converted.items()}, strict=True)
    images = torch.randn(2, 3, 64, 64)
    trunk = torch.nn.Sequential(*list(model.children())[:-2])  # no pool, fc
    with torch.no_grad():
        torch.testing.assert_close(ours(images)[-1], trunk(images))
