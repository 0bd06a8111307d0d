"""ImageCaptioner: wiring, part checks, loss on packed samples, generation."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from pixpretrain.models import ImageCaptioner
from pixpretrain.models.algorithms.image_captioner import (caption_tokens,
                                                           image_tokens_of)
from pixpretrain.models.utils.caption_generation import greedy_captions
from pixpretrain.utils.errors import ConfigError

BACKBONE = dict(type='VisionTransformer', img_size=32, patch_size=8,
                arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                          mlp_ratio=2.0))
TEXT = dict(type='TextTransformer', vocab_size=20, context_length=8,
            arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                      mlp_ratio=2.0))
HEAD = dict(type='CaptionHead', image_dims=32, text_dims=16, vocab_size=20,
            num_layers=1, num_heads=2, mlp_ratio=2.0)
MASKED = dict(type='MaskedCaptionHead', image_dims=32, embed_dims=16,
              vocab_size=20, context_length=8, num_layers=1, num_heads=2)


def samples(*rows):
    out = []
    for row in rows:
        sample = BaseDataElement()
        sample.text_tokens = torch.tensor(row + [0] * (8 - len(row)))
        out.append(sample)
    return out


def test_caption_tokens_drop_the_columns_of_padding_only():
    tokens = caption_tokens(samples([1, 5, 2], [1, 5, 6, 7, 2]))
    assert tokens.tolist() == [[1, 5, 2, 0, 0], [1, 5, 6, 7, 2]]


def test_a_feature_map_becomes_its_positions():
    fmap = torch.arange(24.0).view(1, 2, 3, 4)
    tokens = image_tokens_of(fmap)
    assert tokens.shape == (1, 12, 2)
    assert tokens[0, 5].tolist() == [5.0, 17.0]
    with pytest.raises(ConfigError, match=r'last output is \(1, 24\)'):
        image_tokens_of(fmap.flatten(1))


@pytest.mark.parametrize('head', [HEAD, MASKED])
def test_both_heads_train_the_backbone(head):
    torch.manual_seed(0)
    text = TEXT if head is HEAD else None
    model = ImageCaptioner(BACKBONE, head, text_backbone=text)
    images = torch.randn(2, 3, 32, 32)
    losses = model(images, samples([1, 5, 6, 2], [1, 7, 2]), mode='loss')
    assert set(losses) == {'loss_caption'}
    losses['loss_caption'].backward()
    assert model.backbone.patch_embed.weight.grad.abs().sum() > 0


def test_parts_that_do_not_fit_are_refused():
    with pytest.raises(ConfigError, match='text_backbone'):
        ImageCaptioner(BACKBONE, HEAD)
    with pytest.raises(ConfigError, match='remove model.text_backbone'):
        ImageCaptioner(BACKBONE, MASKED, text_backbone=TEXT)
    with pytest.raises(ConfigError, match='text_dims'):
        ImageCaptioner(BACKBONE, dict(HEAD, text_dims=8),
                       text_backbone=TEXT)


def test_predict_generates_captions_that_start_with_sot():
    torch.manual_seed(0)
    model = ImageCaptioner(BACKBONE, HEAD, text_backbone=TEXT).eval()
    out = model(torch.randn(2, 3, 32, 32), mode='predict')
    assert [s.caption_tokens.shape for s in out] == [(8, )] * 2
    assert all(s.caption_tokens[0] == 1 for s in out)
    beams = model.generate(torch.randn(2, 3, 32, 32), max_len=6,
                           beam_size=2)
    assert beams.shape == (2, 6)


def test_parallel_head_generates_in_one_pass_and_others_are_refused():
    torch.manual_seed(0)
    model = ImageCaptioner(BACKBONE, dict(MASKED, mask_ratio=1.0)).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model.head.parallel_captions(model.image_tokens(images),
                                                8)
    torch.testing.assert_close(model.generate(images), expected)
    with pytest.raises(ConfigError, match='beam_size=1'):
        model.generate(images, beam_size=2)
    for max_len in (0, 9):  # outside [2, context_length]
        with pytest.raises(ConfigError, match='max_len must lie in'):
            model.generate(images, max_len=max_len)
    partial = ImageCaptioner(BACKBONE, dict(MASKED, mask_ratio=0.5)).eval()
    with pytest.raises(ConfigError, match='mask_ratio=1'):
        partial.generate(images)


def test_a_cappa_head_captions_autoregressively_through_itself():
    torch.manual_seed(0)
    model = ImageCaptioner(
        BACKBONE, dict(MASKED, mask_ratio=1.0, ar_fraction=0.25)).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = greedy_captions(None, model.head,
                                   model.image_tokens(images), 8)
    torch.testing.assert_close(model.generate(images), expected)
    assert model.generate(images, max_len=6, beam_size=2).shape == (2, 6)


@pytest.mark.parametrize('head, text, scored', [
    (HEAD, TEXT, [3, 2]),  # caption and end
    (dict(MASKED, mask_ratio=1.0), None, [3, 2]),
    (dict(MASKED, mask_ratio=1.0, ar_fraction=0.25), None, [3, 2]),
])
def test_predict_scores_reference_captions_as_the_loss_does(head, text,
                                                            scored):
    torch.manual_seed(0)
    model = ImageCaptioner(BACKBONE, head, text_backbone=text).eval()
    images = torch.randn(2, 3, 32, 32)
    batch = samples([1, 5, 6, 2], [1, 7, 2])
    if getattr(model.head, 'autoregressive', False):
        model.head.loss_calls.fill_(3)  # CapPa's fourth step: autoregressive
    with torch.no_grad():
        out = model(images, batch, mode='predict')
        loss = model(images, samples([1, 5, 6, 2], [1, 7, 2]),
                     mode='loss')['loss_caption']
    assert [int(s.caption_scored) for s in out] == scored
    # The loss is the mean NLL over the batch's scored tokens.
    total = sum(float(s.caption_nll) for s in out)
    assert total / sum(scored) == pytest.approx(loss.item(), rel=1e-5)


def test_captions_are_not_scored_without_references():
    torch.manual_seed(0)
    model = ImageCaptioner(BACKBONE, HEAD, text_backbone=TEXT).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32), mode='predict')
    assert all('caption_nll' not in s and 'caption_tokens' in s
               for s in out)


def test_generation_settings_of_the_wrong_type_are_one_error():
    torch.manual_seed(0)
    model = ImageCaptioner(BACKBONE, HEAD, text_backbone=TEXT).eval()
    images = torch.randn(1, 3, 32, 32)
    with pytest.raises(ConfigError, match='max_len must lie in'):
        model.generate(images, max_len=3.0)
    with pytest.raises(ConfigError, match=r'beam_size must be an int >= 1, '
                       r'got 2\.0'):
        model.generate(images, beam_size=2.0)
    with pytest.raises(ConfigError, match=(
            r"the text tower takes \(B, L\) int64 token ids, got list: "
            r'tokenize first')):
        model.text_backbone(['a cat'])
