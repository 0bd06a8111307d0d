"""TimmBackbone: timm models' feature levels, read through timm's feature
API, against the same modules run by hand. Small models, random weights,
nothing downloaded."""
import sys

import pytest
import torch

from pixpretrain.models import TimmBackbone
from pixpretrain.utils import ConfigError
from pixpretrain.utils.optional import MissingDependencyError

timm = pytest.importorskip('timm')


def resnet_levels_by_hand(net, images):
    """timm ResNet's five levels: the stem's activation, then layer1-4."""
    x = net.act1(net.bn1(net.conv1(images)))
    levels = [x]
    x = net.maxpool(x)
    for name in ('layer1', 'layer2', 'layer3', 'layer4'):
        x = getattr(net, name)(x)
        levels.append(x)
    return levels


def test_resnet_levels_are_the_stem_and_stages_in_the_order_asked():
    torch.manual_seed(0)
    backbone = TimmBackbone('resnet18', out_indices=(2, -1)).eval()
    images = torch.randn(2, 3, 32, 32)
    expected = resnet_levels_by_hand(backbone.model, images)
    assert backbone.num_stages == 5
    assert backbone.out_channels == (64, 64, 128, 256, 512)
    with torch.no_grad():
        got = backbone.forward_intermediates(images, [-1, 1, 1, 0])
        out = backbone(images)
    for level, tensor in zip([4, 1, 1, 0], got):
        torch.testing.assert_close(tensor, expected[level])
    assert [o.shape for o in out] == [(2, 128, 4, 4), (2, 512, 1, 1)]


def test_levels_after_the_deepest_asked_are_not_run():
    backbone = TimmBackbone('resnet18').eval()
    calls = []
    backbone.model.layer4.register_forward_hook(
        lambda *args: calls.append(1))
    backbone.forward_intermediates(torch.randn(1, 3, 32, 32), [1])
    assert calls == []


def test_vit_blocks_are_patch_token_maps_without_the_class_token():
    backbone = TimmBackbone('vit_tiny_patch16_224', img_size=32,
                            patch_size=8, embed_dim=32, depth=2,
                            num_heads=2).eval()
    blocks = []
    for block in backbone.model.blocks:
        block.register_forward_hook(
            lambda module, args, out: blocks.append(out))
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        backbone.model.forward_features(images)
        first, last = backbone.forward_intermediates(images, [0, 1])
    assert backbone.num_stages == 2 and backbone.img_size == (32, 32)
    assert backbone.num_prefix_tokens == 0
    # (B, 1 + 16, 32) tokens -> the 16 patches on their 4 x 4 grid.
    for got, tokens in zip((first, last), blocks[:2]):
        expected = tokens[:, 1:].transpose(1, 2).reshape(2, 32, 4, 4)
        torch.testing.assert_close(got, expected)


def test_features_only_wrapper_gives_the_same_levels():
    full = TimmBackbone('resnet18', feature_api='forward_intermediates')
    wrapped = TimmBackbone('resnet18', feature_api='features_only')
    wrapped.model.load_state_dict(full.model.state_dict())
    images = torch.randn(2, 3, 32, 32)
    full.eval(), wrapped.eval()
    with torch.no_grad():
        for a, b in zip(full.forward_intermediates(images, range(5)),
                        wrapped.forward_intermediates(images, range(5))):
            torch.testing.assert_close(a, b)
    assert wrapped.out_channels == full.out_channels


def test_init_weights_keeps_timms_weights():
    # A timm ViT has an init_weights() of its own that mmengine would call
    # and re-draw the weights with; loaded weights must survive.
    backbone = TimmBackbone('vit_tiny_patch16_224', img_size=32,
                            patch_size=8, embed_dim=32, depth=1, num_heads=2)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_bad_names_and_indices_fail_in_one_line():
    with pytest.raises(ConfigError, match=r"backbone.model_name = "
                       r"'resnet9000'.*close: .*resnet"):
        TimmBackbone('resnet9000')
    with pytest.raises(ConfigError, match='backbone.feature_api'):
        TimmBackbone('resnet18', feature_api='hooks')
    with pytest.raises(ConfigError, match='feature index 5 is out of range '
                       'for 5 timm feature levels'):
        TimmBackbone('resnet18', out_indices=5)
    with pytest.raises(ConfigError, match='backbone.num_classes = 10: a '
                       'backbone has no classifier'):
        TimmBackbone('resnet18', num_classes=10)


def test_missing_timm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'timm', None)
    with pytest.raises(MissingDependencyError,
                       match=r"TimmBackbone needs timm.*pixpretrain\[timm\]"):
        TimmBackbone('resnet18')


@pytest.mark.parametrize('name, kwargs', [
    ('vit_tiny_patch16_224', dict(img_size=32, patch_size=8, depth=2)),
    ('convnext_atto', {}), ('resnet10t', {})])
def test_every_weight_gets_a_gradient(name, kwargs):
    # A launched DDP run stops on weights without a gradient: the final
    # norm and head, which come after every level, are pruned.
    backbone = TimmBackbone(name, **kwargs)
    sum(out.mean() for out in backbone(torch.randn(2, 3, 32, 32))).backward()
    assert [n for n, p in backbone.named_parameters() if p.grad is None] \
        == []


def test_an_option_timm_does_not_take_is_a_config_error():
    with pytest.raises(ConfigError, match=r"backbone\.bogus_option = 3: "
                       r"timm's resnet10t takes no such option"):
        TimmBackbone('resnet10t', bogus_option=3)
