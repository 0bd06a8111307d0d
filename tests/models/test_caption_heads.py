"""CaptionHead and MaskedCaptionHead against hand-written references."""
import math

import pytest
import torch

from pixpretrain.models import (CaptionHead, MaskedCaptionHead,
                                TextTransformer, caption_loss)
from pixpretrain.utils.errors import ConfigError

PAD, SOT, EOT = 0, 1, 2
VOCAB, WIDTH, IMAGE_WIDTH = 12, 16, 8


def text_tower():
    torch.manual_seed(0)
    return TextTransformer(
        arch=dict(embed_dims=WIDTH, num_layers=1, num_heads=2, mlp_ratio=2.0),
        vocab_size=VOCAB, context_length=8).eval()


def caption_head():
    torch.manual_seed(1)
    return CaptionHead(IMAGE_WIDTH, WIDTH, VOCAB, num_layers=2,
                       num_heads=2, mlp_ratio=2.0).eval()


def images(seed=2, batch=2):
    return torch.randn(batch, 5, IMAGE_WIDTH,
                       generator=torch.Generator().manual_seed(seed))


def test_caption_loss_is_mean_nll_over_non_padding_targets():
    logits = torch.tensor([[[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]],
                           [[1.0, 1.0, 1.0], [5.0, 0.0, 0.0]]])
    targets = torch.tensor([[2, 1], [1, 0]])  # the last one is padding

    def nll(row, target):
        return math.log(sum(math.exp(v) for v in row)) - row[target]

    expected = (nll([2.0, 0.0, 1.0], 2) + nll([0.0, 3.0, 0.0], 1) +
                nll([1.0, 1.0, 1.0], 1)) / 3
    assert caption_loss(logits, targets, pad_id=0).item() == \
        pytest.approx(expected, rel=1e-6)


def logits_of(text, head, tokens, image):
    with torch.no_grad():
        return head(text.encode_tokens(tokens), image)


def test_changing_token_t_changes_no_logit_before_t():
    text, head, image = text_tower(), caption_head(), images()
    tokens = torch.tensor([[SOT, 5, 6, 7, 8, EOT, PAD, PAD]] * 2)
    before = logits_of(text, head, tokens, image)
    changed = tokens.clone()
    changed[:, 3] = 9
    after = logits_of(text, head, changed, image)
    torch.testing.assert_close(after[:, :3], before[:, :3])
    assert not torch.allclose(after[:, 3:], before[:, 3:])


def test_cross_attention_sees_the_image():
    text, head = text_tower(), caption_head()
    tokens = torch.tensor([[SOT, 5, 6, EOT]] * 2)
    first = logits_of(text, head, tokens, images(seed=2))
    second = logits_of(text, head, tokens, images(seed=3))
    assert (first - second).abs().amax(dim=-1).min() > 1e-4


def test_caption_head_loss_is_teacher_forced_and_ignores_padding():
    text, head, image = text_tower(), caption_head(), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD, PAD],
                           [SOT, 7, EOT, PAD, PAD, PAD]])
    feats = text.encode_tokens(tokens)
    logits = logits_of(text, head, tokens, image)
    logp = logits.log_softmax(dim=-1)
    # Position t predicts token t + 1; the pairs that are not padding:
    pairs = [(0, 0, 5), (0, 1, 6), (0, 2, EOT), (1, 0, 7), (1, 1, EOT)]
    expected = -sum(logp[b, t, k] for b, t, k in pairs) / len(pairs)
    loss = head.loss(image, tokens, feats)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # Padding targets do not count: whatever sits there, the loss is equal.
    longer = torch.cat([tokens, torch.full((2, 2), PAD)], dim=1)
    assert head.loss(image, longer, text.encode_tokens(longer)).item() == \
        pytest.approx(loss.item(), rel=1e-5)


def test_token_nll_is_the_per_token_loss_padding_zeroed():
    text, head, image = text_tower(), caption_head(), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD],
                           [SOT, 7, EOT, PAD, PAD]])
    logp = logits_of(text, head, tokens, image).log_softmax(dim=-1)
    with torch.no_grad():
        nll, scored = head.token_nll(image, tokens,
                                     text.encode_tokens(tokens))
    expected = torch.zeros(2, 4)
    for b, t, k in [(0, 0, 5), (0, 1, 6), (0, 2, EOT), (1, 0, 7),
                    (1, 1, EOT)]:
        expected[b, t] = -logp[b, t, k]
    torch.testing.assert_close(nll, expected, rtol=1e-5, atol=1e-6)
    assert scored.tolist() == [[True, True, True, False],
                               [True, True, False, False]]


def masked_head(mask_ratio=0.5):
    torch.manual_seed(4)
    return MaskedCaptionHead(IMAGE_WIDTH, WIDTH, VOCAB, context_length=8,
                             mask_ratio=mask_ratio, num_layers=1,
                             num_heads=2, mlp_ratio=2.0).eval()


def test_masked_loss_scores_only_masked_positions():
    head, image = masked_head(), images()
    tokens = torch.tensor([[SOT, 5, 6, 7, EOT, PAD],
                           [SOT, 8, EOT, PAD, PAD, PAD]])
    mask = torch.zeros_like(tokens, dtype=torch.bool)
    mask[0, 2] = mask[1, 1] = True
    with torch.no_grad():
        logp = head(image, tokens, mask).log_softmax(dim=-1)
        loss = head.masked_loss(image, tokens, mask)
    expected = -(logp[0, 2, 6] + logp[1, 1, 8]) / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_masked_tokens_are_hidden_from_the_decoder():
    head, image = masked_head(), images()
    tokens = torch.tensor([[SOT, 5, 6, 7, EOT]])
    mask = torch.tensor([[False, False, True, False, False]])
    other = tokens.clone()
    other[0, 2] = 9
    with torch.no_grad():
        torch.testing.assert_close(head(image[:1], tokens, mask),
                                   head(image[:1], other, mask))


def test_parallel_prediction_hides_every_position_scores_no_padding():
    head, image = masked_head(mask_ratio=1.0), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD], [SOT, 7, EOT, PAD, PAD]])
    mask = head.draw_mask(tokens)
    assert mask.all()
    with torch.no_grad():
        logp = head(image, tokens, mask).log_softmax(dim=-1)
        loss = head.masked_loss(image, tokens, mask)
    keep = tokens != PAD
    rows, cols = keep.nonzero(as_tuple=True)
    expected = -logp[rows, cols, tokens[keep]].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # Neither the words nor the length reach the decoder.
    with torch.no_grad():
        torch.testing.assert_close(head(image, tokens, mask),
                                   head(image, torch.zeros_like(tokens),
                                        mask))


def test_parallel_token_nll_reads_every_token_from_the_image_alone():
    head, image = masked_head(mask_ratio=1.0), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD], [SOT, 7, EOT, PAD, PAD]])
    hidden = torch.ones_like(tokens, dtype=torch.bool)
    with torch.no_grad():
        logp = head(image, torch.zeros_like(tokens),
                    hidden).log_softmax(dim=-1)
        nll, scored = head.token_nll(image, tokens)
    assert scored.tolist() == (tokens != PAD).tolist()
    expected = -logp.gather(2, tokens[..., None])[..., 0] * scored
    torch.testing.assert_close(nll, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match='depends on the mask drawn'):
        masked_head(mask_ratio=0.5).token_nll(image, tokens)


def test_parallel_captions_are_the_argmax_of_one_all_masked_pass():
    head, image = masked_head(mask_ratio=1.0), images()
    with torch.no_grad():
        logits = head(image, torch.zeros(2, 6, dtype=torch.long),
                      torch.ones(2, 6, dtype=torch.bool))
    torch.testing.assert_close(head.parallel_captions(image, 6),
                               logits.argmax(dim=-1))


def test_partial_masking_never_hides_padding():
    head = masked_head(mask_ratio=0.9)
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD, PAD]] * 16)
    assert not head.draw_mask(tokens)[:, 4:].any()


def test_partial_mask_share_is_near_mask_ratio():
    head = masked_head(mask_ratio=0.25)
    tokens = torch.full((64, 8), 5)
    share = head.draw_mask(tokens, torch.Generator().manual_seed(0))
    assert 0.2 < share.float().mean().item() < 0.3


@pytest.mark.parametrize('ratio', [0.0, 1.5])
def test_mask_ratio_out_of_range_is_refused(ratio):
    with pytest.raises(ConfigError, match='mask_ratio'):
        MaskedCaptionHead(IMAGE_WIDTH, WIDTH, VOCAB, mask_ratio=ratio,
                          num_heads=2)
