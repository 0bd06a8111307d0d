"""CaptionHead and the shared caption losses against hand-written
references."""
import math

import pytest
import torch

from pixpretrain.models import CaptionHead, TextTransformer, caption_loss

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
