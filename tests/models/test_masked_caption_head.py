"""MaskedCaptionHead (MLM, CapPa's parallel prediction and CapPa's mix of
parallel and autoregressive steps) against hand-written references, and
autoregressive decoding through it."""
import pytest
import torch

from pixpretrain.models import MaskedCaptionHead, caption_loss
from pixpretrain.models.utils.caption_generation import (
    NextTokenScorer, beam_search_captions, greedy_captions)
from pixpretrain.utils.errors import ConfigError

PAD, SOT, EOT = 0, 1, 2
VOCAB, WIDTH, IMAGE_WIDTH, CONTEXT = 12, 16, 8, 8


def images(seed=2, batch=2):
    return torch.randn(batch, 5, IMAGE_WIDTH,
                       generator=torch.Generator().manual_seed(seed))


def masked_head(mask_ratio=0.5, ar_fraction=0.0):
    torch.manual_seed(4)
    return MaskedCaptionHead(IMAGE_WIDTH, WIDTH, VOCAB,
                             context_length=CONTEXT, mask_ratio=mask_ratio,
                             ar_fraction=ar_fraction, num_layers=1,
                             num_heads=2, mlp_ratio=2.0).eval()


def all_masked_logits(head, image):
    """(B, CONTEXT, V) logits of one pass over an all-masked input."""
    blank = torch.zeros(image.shape[0], CONTEXT, dtype=torch.long)
    with torch.no_grad():
        return head(image, blank, torch.ones_like(blank, dtype=torch.bool))


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


def test_parallel_loss_reads_every_position_at_full_length():
    head, image = masked_head(mask_ratio=1.0), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD], [SOT, 7, EOT, PAD, PAD]])
    assert head.draw_mask(tokens).all()
    logp = all_masked_logits(head, image).log_softmax(dim=-1)
    keep = tokens != PAD
    keep[:, 0] = False  # the start token is given, never a target
    rows, cols = keep.nonzero(as_tuple=True)
    expected = -logp[rows, cols, tokens[keep]].mean()
    with torch.no_grad():
        loss = head.loss(image, tokens)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_parallel_token_nll_scores_caption_and_end_from_the_image_alone():
    head, image = masked_head(mask_ratio=1.0), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD], [SOT, 7, EOT, PAD, PAD]])
    logp = all_masked_logits(head, image).log_softmax(dim=-1)
    with torch.no_grad():
        nll, scored = head.token_nll(image, tokens)
    # Position t scores token t; the start token (always given) is not.
    assert scored.tolist() == (tokens[:, 1:] != PAD).tolist()
    expected = -logp[:, 1:5].gather(2, tokens[:, 1:, None])[..., 0] * scored
    torch.testing.assert_close(nll, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match='depends on the mask drawn'):
        masked_head(mask_ratio=0.5).token_nll(image, tokens)


def test_a_captions_nll_does_not_depend_on_its_batch_mates():
    head, image = masked_head(mask_ratio=1.0), images()
    short = torch.tensor([[SOT, 7, EOT]])
    with torch.no_grad():
        alone, _ = head.token_nll(image[:1], short)
        # batched with a longer caption, the batch is wider
        batched, _ = head.token_nll(image, torch.tensor(
            [[SOT, 7, EOT, PAD, PAD], [SOT, 5, 6, 8, EOT]]))
    torch.testing.assert_close(batched[0, :2], alone[0], rtol=1e-6,
                               atol=1e-6)


def test_masked_positions_keep_their_position():
    head, image = masked_head(mask_ratio=1.0), images()
    logits = all_masked_logits(head, image)
    # Only the position tells one masked input from another: without it,
    # every position would get the same prediction.
    assert (logits[:, 1:] - logits[:, :1]).abs().amax() > 1e-3
    with torch.no_grad():
        x = head.embed(torch.zeros(1, CONTEXT, dtype=torch.long),
                       mask=torch.ones(1, CONTEXT, dtype=torch.bool))
    torch.testing.assert_close(x, head.mask_embed + head.pos_embed)


def test_parallel_captions_are_the_argmax_of_one_all_masked_pass():
    head, image = masked_head(mask_ratio=1.0), images()
    expected = all_masked_logits(head, image)[:, :6].argmax(dim=-1)
    expected[:, 0] = SOT  # given, never trained
    torch.testing.assert_close(head.parallel_captions(image, 6), expected)
    for length in (1, CONTEXT + 1):
        with pytest.raises(ConfigError, match='max_len must lie in'):
            head.parallel_captions(image, length)


@pytest.mark.parametrize('share', [0.58, 0.3, 0.25])
def test_the_schedule_is_exact_for_decimal_shares(share):
    head = masked_head(mask_ratio=1.0, ar_fraction=share).train()
    numerator, denominator = round(share * 100), 100
    calls = []
    for n in range(200):
        calls.append(head._autoregressive_step())
        # integer arithmetic: floor((n + 1) p / q) > floor(n p / q)
        assert calls[-1] == ((n + 1) * numerator // denominator >
                             n * numerator // denominator), n
    assert sum(calls) == 2 * numerator


def test_partial_masking_never_hides_padding_or_the_start():
    head = masked_head(mask_ratio=0.9)
    tokens = torch.tensor([[SOT, 5, 6, EOT, PAD, PAD]] * 16)
    mask = head.draw_mask(tokens)
    assert not mask[:, 4:].any() and not mask[:, 0].any()
    assert mask[:, 1:4].any()


def test_partial_mask_share_is_near_mask_ratio():
    head = masked_head(mask_ratio=0.25)
    tokens = torch.full((64, 8), 5)
    share = head.draw_mask(tokens, torch.Generator().manual_seed(0))
    assert 0.2 < share.float().mean().item() < 0.3


@pytest.mark.parametrize('kwargs, match', [
    (dict(mask_ratio=0.0), 'mask_ratio'),
    (dict(mask_ratio=1.5), 'mask_ratio'),
    (dict(ar_fraction=1.0), 'ar_fraction'),
    (dict(ar_fraction=-0.1), 'ar_fraction'),
    (dict(mask_ratio=0.5, ar_fraction=0.25), 'set mask_ratio=1'),
    (dict(ar_fraction='0.25'), 'ar_fraction.*must be a number'),
    (dict(mask_ratio=True), 'mask_ratio.*must be a number'),
])
def test_settings_out_of_range_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MaskedCaptionHead(IMAGE_WIDTH, WIDTH, VOCAB, num_heads=2, **kwargs)


# CapPa's mix: autoregressive steps in the same decoder.

def test_autoregressive_logits_are_causal_teacher_forcing():
    head, image = masked_head(mask_ratio=1.0, ar_fraction=0.25), images()
    tokens = torch.tensor([[SOT, 5, 6, 7, EOT, PAD]] * 2)
    changed = tokens.clone()
    changed[:, 3] = 9
    with torch.no_grad():
        before = head.next_logits(image, tokens)
        after = head.next_logits(image, changed)
        loss = head.autoregressive_loss(image, tokens)
    torch.testing.assert_close(after[:, :3], before[:, :3])
    assert not torch.allclose(after[:, 3:], before[:, 3:])
    # position t predicts token t + 1; padding targets ignored
    expected = caption_loss(before[:, :-1], tokens[:, 1:], PAD)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_quarter_of_the_steps_are_autoregressive_and_resume_knows():
    head, image = masked_head(mask_ratio=1.0, ar_fraction=0.25), images()
    tokens = torch.tensor([[SOT, 5, 6, EOT], [SOT, 7, EOT, PAD]])
    with torch.no_grad():
        ar = head.autoregressive_loss(image, tokens).item()
        parallel = masked_head(mask_ratio=1.0).loss(image, tokens).item()
        head.loss(image, tokens)  # in eval mode: the count stays
        assert int(head.loss_calls) == 0
        head.train()  # no dropout: the same losses
        steps = [head.loss(image, tokens).item() for _ in range(8)]
    assert ar != pytest.approx(parallel, rel=1e-3)
    kinds = ['ar' if s == pytest.approx(ar, rel=1e-6) else 'parallel'
             for s in steps]
    assert kinds == ['parallel'] * 3 + ['ar'] + ['parallel'] * 3 + ['ar']
    assert all(s == pytest.approx(parallel, rel=1e-6)
               for s, k in zip(steps, kinds) if k == 'parallel')
    # the step count travels in the state dict: a resumed head goes on
    resumed = masked_head(mask_ratio=1.0, ar_fraction=0.25)
    resumed.load_state_dict(head.state_dict())
    assert int(resumed.loss_calls) == 8
    assert 'loss_calls' not in masked_head(mask_ratio=1.0).state_dict()


def test_an_autoregressive_step_gives_every_parameter_a_gradient():
    head, image = masked_head(mask_ratio=1.0, ar_fraction=0.5), images()
    head.train()
    tokens = torch.tensor([[SOT, 5, 6, EOT], [SOT, 7, EOT, PAD]])
    head.loss(image, tokens)  # call 0: parallel
    head.loss(image, tokens).backward()  # call 1: autoregressive
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert missing == []
    assert head.mask_embed.grad.abs().sum() == 0


def reference_greedy(head, image, max_len):
    """The argmax of the full causal pass, step by step, image by image."""
    rows = []
    for b in range(image.shape[0]):
        tokens = [SOT]
        while len(tokens) < max_len and tokens[-1] != EOT:
            with torch.no_grad():
                logits = head.next_logits(image[b:b + 1],
                                          torch.tensor([tokens]))
            tokens.append(int(logits[0, -1].argmax()))
        rows.append(tokens + [PAD] * (max_len - len(tokens)))
    return torch.tensor(rows)


def sharp_head():
    head = masked_head(mask_ratio=1.0, ar_fraction=0.25)
    with torch.no_grad():  # decisions that depend on the image
        head.logits_proj.weight.mul_(8)
    return head


@pytest.mark.parametrize('use_cache', [True, False])
def test_greedy_decoding_through_the_head_is_the_step_by_step_argmax(
        use_cache):
    head, image = sharp_head(), images(batch=3)
    got = greedy_captions(None, head, image, CONTEXT, use_cache=use_cache)
    torch.testing.assert_close(got, reference_greedy(head, image, CONTEXT))


def test_cached_scores_and_beams_equal_uncached_through_the_head():
    head, image = sharp_head(), images(batch=3)
    prefix = torch.tensor([[SOT, 3, 4, 5], [SOT, 6, 3, 3], [SOT, 4, 4, 6]])
    cached = NextTokenScorer(None, head, image, CONTEXT, use_cache=True)
    uncached = NextTokenScorer(None, head, image, CONTEXT, use_cache=False)
    with torch.no_grad():
        for t in range(1, prefix.shape[1] + 1):
            torch.testing.assert_close(cached(prefix[:, :t]),
                                       uncached(prefix[:, :t]),
                                       atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        beam_search_captions(None, head, image, CONTEXT, beam_size=3),
        beam_search_captions(None, head, image, CONTEXT, beam_size=3,
                             use_cache=False))
    with pytest.raises(ConfigError, match='context_length=8'):
        greedy_captions(None, head, image, CONTEXT + 1)


def test_an_mlm_loss_does_not_depend_on_the_padding_its_batch_gave():
    head, image = masked_head(mask_ratio=0.5), images(batch=1)
    caption = torch.tensor([[SOT, 7, 5, 6, EOT]])
    padded = torch.tensor([[SOT, 7, 5, 6, EOT, PAD, PAD]])  # a longer mate
    losses = []
    with torch.no_grad():
        for tokens in (caption, padded):
            torch.manual_seed(3)  # the same mask draws
            losses.append(head.loss(image, tokens).item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
