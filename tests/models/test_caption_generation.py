"""Greedy decoding and beam search, cached and uncached."""
import itertools

import pytest
import torch

from pixpretrain.models import CaptionHead, TextTransformer
from pixpretrain.models.utils.caption_generation import (
    NextTokenScorer, beam_search_captions, greedy_captions)
from pixpretrain.utils.errors import ConfigError

PAD, SOT, EOT = 0, 1, 2
VOCAB = 7


def parts(seed=0):
    torch.manual_seed(seed)
    text = TextTransformer(
        arch=dict(embed_dims=16, num_layers=2, num_heads=2, mlp_ratio=2.0),
        vocab_size=VOCAB, context_length=10).eval()
    head = CaptionHead(8, 16, VOCAB, num_layers=2, num_heads=2,
                       mlp_ratio=2.0).eval()
    # Larger logits than at init, so decoding choices depend on the image.
    with torch.no_grad():
        head.logits_proj.weight.mul_(8)
    image = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(9))
    return text, head, image


def test_cached_scorer_gives_the_uncached_logits():
    text, head, image = parts()
    prefix = torch.tensor([[SOT, 3, 4, 5], [SOT, 6, 3, 3], [SOT, 4, 4, 6]])
    cached = NextTokenScorer(text, head, image, 10, use_cache=True)
    uncached = NextTokenScorer(text, head, image, 10, use_cache=False)
    with torch.no_grad():
        for t in range(1, prefix.shape[1] + 1):
            torch.testing.assert_close(cached(prefix[:, :t]),
                                       uncached(prefix[:, :t]),
                                       atol=1e-5, rtol=1e-5)


def reference_greedy(text, head, image, max_len):
    """Argmax of the full forward pass, step by step, one image at a time."""
    rows = []
    for b in range(image.shape[0]):
        tokens = [SOT]
        while len(tokens) < max_len and tokens[-1] != EOT:
            ids = torch.tensor([tokens])
            with torch.no_grad():
                logits = head(text.encode_tokens(ids), image[b:b + 1])
            tokens.append(int(logits[0, -1].argmax()))
        rows.append(tokens + [PAD] * (max_len - len(tokens)))
    return torch.tensor(rows)


@pytest.mark.parametrize('use_cache', [True, False])
def test_greedy_equals_the_step_by_step_argmax(use_cache):
    text, head, image = parts()
    expected = reference_greedy(text, head, image, 8)
    got = greedy_captions(text, head, image, 8, use_cache=use_cache)
    torch.testing.assert_close(got, expected)
    assert len({tuple(row.tolist()) for row in got}) > 1  # image matters


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_beam_of_one_is_greedy(seed):
    text, head, image = parts(seed)
    torch.testing.assert_close(
        beam_search_captions(text, head, image, 8, beam_size=1),
        greedy_captions(text, head, image, 8))


@pytest.mark.parametrize('seed', [0, 1])
def test_cached_beam_search_equals_uncached(seed):
    text, head, image = parts(seed)
    torch.testing.assert_close(
        beam_search_captions(text, head, image, 8, beam_size=3),
        beam_search_captions(text, head, image, 8, beam_size=3,
                             use_cache=False))


def sequence_logprob(text, head, image, tokens):
    ids = torch.tensor([tokens])
    with torch.no_grad():
        logp = head(text.encode_tokens(ids), image[None]).log_softmax(-1)
    total = 0.0
    for t in range(1, len(tokens)):
        if tokens[t - 1] in (EOT, PAD):  # ended: padding costs nothing
            if tokens[t] != PAD:
                return float('-inf')
            continue
        total += float(logp[0, t - 1, tokens[t]])
    return total


def test_a_beam_as_wide_as_the_vocabulary_finds_the_best_two_tokens():
    """With max_len 3 (start + 2 tokens) and beam_size = V nothing is
    pruned, so the result is the best of all V * V continuations."""
    text, head, image = parts()
    got = beam_search_captions(text, head, image, 3, beam_size=VOCAB)
    for b in range(image.shape[0]):
        best = max(itertools.product(range(VOCAB), repeat=2),
                   key=lambda pair: sequence_logprob(
                       text, head, image[b], [SOT, *pair]))
        assert got[b].tolist() == [SOT, *best]


def test_bad_lengths_and_beams_are_refused():
    text, head, image = parts()
    with pytest.raises(ConfigError, match='max_len'):
        greedy_captions(text, head, image, 11)
    with pytest.raises(ConfigError, match='beam_size'):
        beam_search_captions(text, head, image, 5, beam_size=0)
