"""CLIP wiring: pooling, FLIP masking, predict, build-time checks."""
import pytest
import torch
from mmengine.structures import BaseDataElement
from torch import nn

from pixpretrain.models import CLIP, ContrastiveTextHead
from pixpretrain.models.utils import random_masking
from pixpretrain.utils.errors import ConfigError

SIZE, PATCH = 16, 4  # 16 patches


def vit(width=32):
    return dict(type='VisionTransformer',
                arch=dict(embed_dims=width, num_layers=2, num_heads=2,
                          mlp_ratio=2.0),
                img_size=SIZE, patch_size=PATCH)


def text(width=24):
    return dict(type='TextTransformer',
                arch=dict(embed_dims=width, num_layers=1, num_heads=2,
                          mlp_ratio=2.0),
                vocab_size=50, context_length=8)


def tiny_clip(backbone=None, image_dims=32, **kwargs):
    torch.manual_seed(0)
    return CLIP(backbone=backbone or vit(), text_backbone=text(),
                head=dict(type='ContrastiveTextHead', image_dims=image_dims,
                          text_dims=24, embed_dims=16), **kwargs)


def samples(batch):
    tokens = torch.zeros(batch, 8, dtype=torch.long)
    for i in range(batch):
        tokens[i, :4] = torch.tensor([1, 3 + i, 4 + i, 2])
    return [BaseDataElement(text_tokens=t) for t in tokens]


class TinyConvNet(nn.Module):
    """A backbone returning feature maps (B, C, H, W), like a ResNet."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, stride=2, padding=1)

    def forward(self, x):
        return (self.conv(x), )


def test_loss_is_the_head_loss_on_cls_and_eot_features():
    model = tiny_clip()
    images, data = torch.randn(3, 3, SIZE, SIZE), samples(3)
    out = model(images, data, mode='loss')
    tokens = torch.stack([s.text_tokens for s in data])
    expected = model.head.loss(model.backbone(images)[-1][:, 0],
                               model.text_backbone(tokens)[0])
    assert out['loss'].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out['logit_scale'].item() == pytest.approx(1 / 0.07, rel=1e-5)
    assert not out['logit_scale'].requires_grad


def test_mean_pooling_averages_patch_tokens():
    model = tiny_clip(image_pool='mean')
    images = torch.randn(2, 3, SIZE, SIZE)
    tokens = model.backbone(images)[-1]
    torch.testing.assert_close(model.image_features(images),
                               tokens[:, 1:].mean(1))


def test_flip_encodes_only_the_visible_patches():
    model = tiny_clip(mask_ratio=0.5)
    images = torch.randn(2, 3, SIZE, SIZE)
    torch.manual_seed(3)
    feats = model.image_features(images, 0.5)
    torch.manual_seed(3)
    visible, mask, _ = random_masking(model.backbone.embed(images), 0.5)
    assert visible.shape[1] == 8 and mask.sum().item() == 16
    torch.testing.assert_close(feats, model.backbone.encode(visible)[:, 0])
    # Evaluation sees every patch, whatever the training mask ratio.
    torch.testing.assert_close(model.image_features(images),
                               model.backbone(images)[-1][:, 0])


def test_flip_changes_the_training_loss_only():
    images, data = torch.randn(4, 3, SIZE, SIZE), samples(4)
    full, flip = tiny_clip(), tiny_clip(mask_ratio=0.5)
    assert flip(images, data, 'loss')['loss'] != full(images, data,
                                                      'loss')['loss']
    for a, b in zip(full(images, samples(4), 'predict'),
                    flip(images, samples(4), 'predict')):
        torch.testing.assert_close(a.image_embedding, b.image_embedding)


def test_feature_map_backbones_are_average_pooled():
    model = tiny_clip(backbone=TinyConvNet(), image_dims=12)
    images = torch.randn(2, 3, SIZE, SIZE)
    torch.testing.assert_close(model.image_features(images),
                               model.backbone.conv(images).mean((2, 3)))
    loss = model(images, samples(2), mode='loss')['loss']
    loss.backward()
    assert model.backbone.conv.weight.grad is not None


def test_predict_gives_unit_embeddings():
    model = tiny_clip().eval()
    out = model(torch.randn(3, 3, SIZE, SIZE), samples(3), mode='predict')
    for sample in out:
        assert sample.image_embedding.shape == (16, )
        assert sample.image_embedding.norm().item() == pytest.approx(1.0)
        assert sample.text_embedding.norm().item() == pytest.approx(1.0)
    plain = model(torch.randn(2, 3, SIZE, SIZE), None, mode='predict')
    assert len(plain) == 2 and 'text_embedding' not in plain[0]


def test_training_steps_lower_the_loss():
    model = tiny_clip()
    images, data = torch.randn(6, 3, SIZE, SIZE), samples(6)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        loss = model(images, data, mode='loss')['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize('kwargs,match', [
    (dict(mask_ratio=1.0), 'mask_ratio'),
    (dict(image_pool='max'), 'image_pool'),
    (dict(image_dims=48), 'head.image_dims = 48: must equal'),
])
def test_invalid_settings_name_the_key(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        tiny_clip(**kwargs)


def test_parts_that_disagree_fail_at_build_time():
    with pytest.raises(ConfigError, match=r'head.text_dims = 20: .* \(allowed: 24\)'):
        CLIP(backbone=vit(), text_backbone=text(),
             head=ContrastiveTextHead(32, 20))
    with pytest.raises(ConfigError, match='needs a token backbone'):
        tiny_clip(backbone=TinyConvNet(), image_dims=12, mask_ratio=0.5)
    model = tiny_clip(backbone=TinyConvNet(), image_dims=7)
    with pytest.raises(ConfigError, match='feature width \\(12\\)'):
        model.image_features(torch.randn(1, 3, SIZE, SIZE))
    with pytest.raises(ConfigError, match=r'last output is \(1, 2, 3, 4, 5\)'):
        model._pool(torch.zeros(1, 2, 3, 4, 5))


def test_missing_captions_name_the_transform():
    with pytest.raises(ValueError, match='TokenizeText'):
        tiny_clip()(torch.randn(2, 3, SIZE, SIZE), None, mode='loss')
