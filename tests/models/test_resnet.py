import pytest
import torch
import torchvision

from pixpretrain.models import BasePretrainer, ResNet
from pixpretrain.utils.errors import ConfigError


def _torchvision_trunk(model, images):
    x = model.maxpool(model.relu(model.bn1(model.conv1(images))))
    outs = []
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        x = stage(x)
        outs.append(x)
    return outs


@pytest.mark.parametrize('depth', [18, 50])
def test_torchvision_state_dict_loads_strictly_and_gives_its_features(depth):
    reference = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    reference.eval()
    state = {k: v for k, v in reference.state_dict().items()
             if not k.startswith('fc.')}
    ours = ResNet(depth=depth, out_indices=(0, 1, 2, 3)).eval()
    ours.load_state_dict(state, strict=True)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = _torchvision_trunk(reference, images)
        got = ours(images)
    assert ours.out_channels[-1] == expected[-1].shape[1]
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)


def test_stage_outputs_through_the_probe_api():
    backbone = ResNet(depth=18, cifar_stem=True).eval()
    model = BasePretrainer(backbone=backbone).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        default = model(images)  # mode='tensor': out_indices=-1
        stages = model.extract_feat(images, layers=[0, -1, 1])
    assert [tuple(s.shape) for s in stages] == [(2, 64, 32, 32),
                                                (2, 512, 4, 4),
                                                (2, 128, 16, 16)]
    torch.testing.assert_close(stages[1], default[0])


def test_stages_after_the_deepest_requested_are_not_run(monkeypatch):
    backbone = ResNet(depth=18)
    monkeypatch.setattr(backbone.layer3, 'forward', lambda x: 1 / 0)
    backbone.forward_intermediates(torch.randn(1, 3, 32, 32), [1])


def test_channels_last_gives_the_same_features():
    backbone = ResNet(depth=18, cifar_stem=True).eval()
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        plain = backbone(images)[0]
        backbone.to(memory_format=torch.channels_last)
        last = backbone(images.contiguous(
            memory_format=torch.channels_last))[0]
    torch.testing.assert_close(last, plain, rtol=1e-4, atol=1e-5)


def test_frozen_stages_get_no_gradient_and_keep_bn_statistics():
    backbone = ResNet(depth=18, frozen_stages=1).train()
    assert not backbone.bn1.training and not backbone.layer1.training
    assert backbone.layer2.training
    mean_before = backbone.layer1[0].bn1.running_mean.clone()
    backbone(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert backbone.conv1.weight.grad is None
    assert backbone.layer1[0].conv1.weight.grad is None
    assert backbone.layer2[0].conv1.weight.grad is not None
    assert torch.equal(backbone.layer1[0].bn1.running_mean, mean_before)


@pytest.mark.parametrize('kwargs, key', [
    (dict(depth=20), 'depth'),
    (dict(out_indices=4), 'stage index'),
    (dict(frozen_stages=5), 'frozen_stages'),
    (dict(norm_cfg=dict(type='GN')), 'norm_cfg.type'),
])
def test_invalid_settings_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        ResNet(**kwargs)
