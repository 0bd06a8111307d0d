"""CoCa: the attentional pooler, the weighted losses, the part checks."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from pixpretrain.models import CoCa
from pixpretrain.models.utils.attentional_pooler import AttentionalPooler
from pixpretrain.registry import MODELS, register_all_modules
from pixpretrain.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PARTS = dict(
    backbone=dict(type='VisionTransformer', img_size=32, patch_size=8,
                  arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                            mlp_ratio=2.0)),
    text_backbone=dict(type='TextTransformer', vocab_size=20,
                       context_length=8,
                       arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                                 mlp_ratio=2.0)),
    head=dict(type='ContrastiveTextHead', image_dims=32, text_dims=16,
              embed_dims=8),
    caption_head=dict(type='CaptionHead', image_dims=32, text_dims=16,
                      vocab_size=20, num_layers=1, num_heads=2,
                      mlp_ratio=2.0),
    pool_heads=2)


def samples(*rows):
    out = []
    for row in rows:
        sample = BaseDataElement()
        sample.text_tokens = torch.tensor(row + [0] * (8 - len(row)))
        out.append(sample)
    return out


def test_pooler_is_softmax_attention_of_its_query():
    torch.manual_seed(0)
    pooler = AttentionalPooler(embed_dims=4, num_heads=1)
    tokens = torch.randn(2, 5, 4)
    with torch.no_grad():
        normed = pooler.norm(tokens)
        q = pooler.attn.q(pooler.query)[0, 0]  # (4, )
        k, v = pooler.attn.kv(normed).split(4, dim=-1)  # (2, 5, 4) each
        weights = torch.softmax(k @ q / math.sqrt(4), dim=-1)  # (2, 5)
        expected = pooler.attn.proj((weights[..., None] * v).sum(1))
        torch.testing.assert_close(pooler(tokens)[:, 0], expected)


def test_loss_is_the_weighted_sum_of_the_two_parts():
    torch.manual_seed(0)
    model = CoCa(**PARTS, contrastive_weight=0.5, caption_weight=3.0)
    images = torch.randn(2, 3, 32, 32)
    data = samples([1, 5, 6, 2], [1, 7, 2])
    losses = model(images, data, mode='loss')
    tokens = torch.stack([s.text_tokens for s in data])[:, :4]
    with torch.no_grad():
        image = model.backbone(images)[-1]  # (B, 1 + 16, 32)
        text = model.text_backbone.encode_tokens(tokens)
        eot_feats = text[[0, 1], [3, 2]]
        pooled = model.pooler(image)[:, 0]
        contrastive = model.head.loss(pooled, eot_feats)
        logits = model.caption_head(text[:, :-1], image)
    targets = tokens[:, 1:]
    keep = targets != 0
    caption = F.cross_entropy(logits[keep], targets[keep])
    assert losses['loss_contrastive'].item() == pytest.approx(
        0.5 * contrastive.item(), rel=1e-5)
    assert losses['loss_caption'].item() == pytest.approx(
        3.0 * caption.item(), rel=1e-5)


def test_predict_embeds_both_towers_and_scores_the_caption():
    torch.manual_seed(0)
    model = CoCa(**PARTS, caption_weight=1.0).eval()
    images = torch.randn(2, 3, 32, 32)
    rows = ([1, 5, 6, 2], [1, 7, 2])
    with torch.no_grad():
        out = model(images, samples(*rows), mode='predict')
        loss = model(images, samples(*rows), mode='loss')['loss_caption']
        tokens = torch.stack([s.text_tokens for s in samples(*rows)])
        image_emb = model.embed_image(images)
        text_emb = model.embed_text(tokens)
    torch.testing.assert_close(torch.stack([s.image_embedding for s in out]),
                               image_emb, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.stack([s.text_embedding for s in out]),
                               text_emb, rtol=1e-5, atol=1e-6)
    assert [int(s.caption_scored) for s in out] == [3, 2]
    total = sum(float(s.caption_nll) for s in out)
    assert total / 5 == pytest.approx(loss.item(), rel=1e-5)
    # Without captions: the image embedding alone, as CLIP's.
    with torch.no_grad():
        (plain, _) = model(images, mode='predict')
    assert 'text_embedding' not in plain and 'caption_nll' not in plain


def test_both_losses_train_the_shared_towers():
    torch.manual_seed(0)
    model = CoCa(**PARTS)
    data = samples([1, 5, 6, 2], [1, 7, 2])
    for key, parts in (('loss_caption', ('caption_head', )),
                       ('loss_contrastive', ('pooler', 'head.'))):
        model.zero_grad()
        model(torch.randn(2, 3, 32, 32), data, mode='loss')[key].backward()
        grads = {n for n, p in model.named_parameters()
                 if p.grad is not None and p.grad.abs().sum() > 0}
        assert any(n.startswith('backbone.') for n in grads)
        assert any(n.startswith('text_backbone.') for n in grads)
        for part in parts:
            assert any(n.startswith(part) for n in grads), (key, part)


def test_parts_and_weights_that_do_not_fit_are_refused():
    with pytest.raises(ConfigError, match='image_pool'):
        CoCa(**PARTS, image_pool='cls')
    with pytest.raises(ConfigError, match='caption_weight'):
        CoCa(**PARTS, caption_weight=-1.0)
    with pytest.raises(ConfigError, match='caption_head.text_dims'):
        CoCa(**dict(PARTS, caption_head=dict(PARTS['caption_head'],
                                             text_dims=8)))


def test_coca_generates_captions():
    torch.manual_seed(0)
    model = CoCa(**PARTS).eval()
    out = model.generate(torch.randn(2, 3, 32, 32), beam_size=2)
    assert out.shape == (2, 8) and (out[:, 0] == 1).all()


@pytest.mark.parametrize('path', [
    'configs/coca/vit-tiny-p8_cifar10-captions.py',
    'configs/captioning/vit-tiny-p8_cifar10-captions.py',
    'configs/captioning/vit-tiny-p8_cifar10-captions_parallel.py',
    'configs/captioning/vit-tiny-p8_cifar10-captions_cappa.py',
])
def test_shipped_configs_build(path):
    register_all_modules()
    model = MODELS.build(Config.fromfile(str(REPO / path)).model)
    assert type(model).__name__ in ('CoCa', 'ImageCaptioner')


def test_flip_masking_feeds_both_heads_the_visible_tokens_only():
    torch.manual_seed(0)
    model = CoCa(**PARTS, mask_ratio=0.5)
    images = torch.randn(2, 3, 32, 32)
    assert model.image_tokens(images, 0.5).shape == (2, 1 + 8, 32)
    assert model.image_tokens(images).shape == (2, 1 + 16, 32)
    losses = model(images, samples([1, 5, 6, 2], [1, 7, 2]), mode='loss')
    (losses['loss_contrastive'] + losses['loss_caption']).backward()
    assert model.backbone.patch_embed.weight.grad.abs().sum() > 0
