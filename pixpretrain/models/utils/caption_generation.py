"""Captions from an image: greedy decoding and beam search through a causal
text tower and a cross-attending caption decoder, with or without a
key/value cache.

The text tower must offer ``encode_tokens``, ``init_cache``, ``decode``
and ``context_length`` (:class:`TextTransformer`); the decoder ``blocks``
(cross-attention :class:`TransformerBlock`), ``init_cache``, ``norm``,
``logits_proj`` and ``decode(feats, image_tokens, causal)``
(:class:`CaptionHead`). Without a
text tower (``text=None``) the decoder embeds the tokens itself: it offers
``embed(tokens, start)`` and ``context_length`` too (a
:class:`MaskedCaptionHead` trained with CapPa's autoregressive steps).
"""
from typing import Optional

import torch
from torch import nn

from pixpretrain.utils.errors import ConfigError
from .distributed import gathered_units
from .sampling import cached_blocks


class NextTokenScorer:
    """Logits of the next token after each row's prefix.

    With ``use_cache`` the keys and values of every block (and of the image
    tokens in each cross-attention) are kept, so a call costs the new
    positions only; without, each call reruns the whole prefix. Both give
    the same logits (up to rounding).

    Args:
        text: The text tower, or None where the decoder embeds tokens.
        head: The caption decoder.
        image_tokens: (B, M, image_dims).
        max_len: Longest prefix that will be scored.
        use_cache: Keep keys and values between calls.
    """

    def __init__(self, text: Optional[nn.Module], head: nn.Module,
                 image_tokens: torch.Tensor, max_len: int,
                 use_cache: bool = True) -> None:
        self.text, self.head = text, head
        self.image_tokens = image_tokens
        self.use_cache = use_cache
        if not use_cache:
            return
        B = image_tokens.shape[0]
        self.text_cache = None if text is None else text.init_cache(B,
                                                                    max_len)
        self.head_cache = head.init_cache(B, max_len)
        self.image_kv = [block.cross_attn.context_kv(image_tokens)
                         for block in head.blocks]

    def __call__(self, prefix: torch.Tensor) -> torch.Tensor:
        """(B, t) ids, extending the previous call's prefix by new tokens
        (rows as reordered by :meth:`reorder`) -> (B, V) logits."""
        if not self.use_cache:
            feats = (self.head.embed(prefix) if self.text is None else
                     self.text.encode_tokens(prefix))
            return self.head.decode(feats, self.image_tokens,
                                    causal=True)[:, -1]
        start = self.head_cache.length
        if self.text is None:
            x = self.head.embed(prefix[:, start:], start)
        else:
            x = self.text.decode(prefix[:, start:], self.text_cache)
        x = cached_blocks(self.head.blocks, x, self.head_cache,
                          self.image_kv)
        return self.head.logits_proj(self.head.norm(x[:, -1]))

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i now continues former row ``rows[i]`` (beam search)."""
        self.image_tokens = self.image_tokens[rows]
        if not self.use_cache:
            return
        for cache in (self.text_cache, self.head_cache):
            if cache is not None:
                cache.reorder(rows)
        self.image_kv = [kv[:, rows] for kv in self.image_kv]


def _check_max_len(text: Optional[nn.Module], head: nn.Module,
                   max_len: int) -> None:
    context_length = (head if text is None else text).context_length
    if isinstance(max_len, bool) or not isinstance(max_len, int) or \
            not 2 <= max_len <= context_length:
        raise ConfigError(f'max_len must lie in [2, context_length='
                          f'{context_length}], got {max_len}')


def _pad_to(tokens: torch.Tensor, max_len: int, pad_id: int) -> torch.Tensor:
    return nn.functional.pad(tokens, (0, max_len - tokens.shape[1]),
                             value=pad_id)


@torch.no_grad()
def greedy_captions(text: Optional[nn.Module], head: nn.Module,
                    image_tokens: torch.Tensor, max_len: int,
                    sot_id: int = 1, eot_id: int = 2, pad_id: int = 0,
                    use_cache: bool = True) -> torch.Tensor:
    """The most likely token at each step until end-of-text.

    Returns:
        (B, max_len) int64 ids: start, caption, end (unless cut at
        ``max_len``), padding.
    """
    _check_max_len(text, head, max_len)
    B = image_tokens.shape[0]
    score = NextTokenScorer(text, head, image_tokens, max_len, use_cache)
    tokens = torch.full((B, 1), sot_id, dtype=torch.long,
                        device=image_tokens.device)
    done = torch.zeros(B, dtype=torch.bool, device=image_tokens.device)
    while tokens.shape[1] < max_len and not done.all():
        best = score(tokens).argmax(dim=-1)
        best = torch.where(done, torch.full_like(best, pad_id), best)
        tokens = torch.cat([tokens, best[:, None]], dim=1)
        done |= best == eot_id
    return _pad_to(tokens, max_len, pad_id)


@torch.no_grad()
def beam_search_captions(text: Optional[nn.Module], head: nn.Module,
                         image_tokens: torch.Tensor, max_len: int,
                         beam_size: int = 4, sot_id: int = 1,
                         eot_id: int = 2, pad_id: int = 0,
                         use_cache: bool = True) -> torch.Tensor:
    """The caption of highest total log-probability among ``beam_size``
    hypotheses kept at every step (no length normalisation: a finished
    hypothesis continues with padding at no cost).

    Returns:
        (B, max_len) int64 ids, as :func:`greedy_captions`.
    """
    _check_max_len(text, head, max_len)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or \
            beam_size < 1:
        raise ConfigError(f'beam_size must be an int >= 1, got {beam_size!r}')
    B, K = image_tokens.shape[0], beam_size
    device = image_tokens.device
    score = NextTokenScorer(text, head,
                            image_tokens.repeat_interleave(K, dim=0),
                            max_len, use_cache)
    tokens = torch.full((B * K, 1), sot_id, dtype=torch.long, device=device)
    # Only the first hypothesis of each image is live at the start, so the
    # first step does not pick the same token K times.
    totals = torch.full((B, K), float('-inf'), device=device)
    totals[:, 0] = 0.0
    done = torch.zeros(B * K, dtype=torch.bool, device=device)
    while tokens.shape[1] < max_len and not done.all():
        logp = score(tokens).float().log_softmax(dim=-1)  # (B * K, V)
        V = logp.shape[1]
        pad_only = torch.full_like(logp[0], float('-inf'))
        pad_only[pad_id] = 0.0
        logp = torch.where(done[:, None], pad_only, logp)
        candidates = (totals.view(B * K, 1) + logp).view(B, K * V)
        totals, flat = candidates.topk(K, dim=1)  # (B, K)
        rows = (torch.arange(B, device=device)[:, None] * K +
                flat // V).flatten()
        chosen = (flat % V).flatten()
        tokens = torch.cat([tokens[rows], chosen[:, None]], dim=1)
        done = done[rows] | (chosen == eot_id)
        score.reorder(rows)
    best = torch.arange(B, device=device) * K + totals.argmax(dim=1)
    return _pad_to(tokens[best], max_len, pad_id)


def generate_captions(text: Optional[nn.Module], head: nn.Module,
                      image_tokens: torch.Tensor, max_len: int,
                      beam_size: int = 1,
                      use_cache: bool = True) -> torch.Tensor:
    """:func:`greedy_captions` at ``beam_size=1``, else
    :func:`beam_search_captions`; (B, max_len) ids either way.

    In a sharded (FSDP2) run, inside the model's forward (validation), the
    blocks of ``text`` and ``head`` are gathered once for the whole decoding
    (:func:`gathered_units`): the cache runs their layers outside their
    forward, and ranks decode for different numbers of steps.
    """
    with gathered_units(text, head) as sharded:
        if sharded and not use_cache:
            raise ConfigError(
                'decoding a sharded (FSDP2) model runs its blocks once per '
                'step, a collective each, and ranks stop at different '
                'steps: decode with use_cache=True')
        if beam_size == 1:
            return greedy_captions(text, head, image_tokens, max_len,
                                   use_cache=use_cache)
        return beam_search_captions(text, head, image_tokens, max_len,
                                    beam_size, use_cache=use_cache)
