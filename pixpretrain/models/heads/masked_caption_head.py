"""A caption decoder that embeds the caption itself: BERT-style masked
language modelling given the image, CapPa's parallel prediction, and
CapPa's mix of parallel and autoregressive steps (Tschannen et al. 2023,
"Image Captioners Are Scalable Vision Learners Too")."""
import math
from fractions import Fraction
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value, too_many_tokens
from ..utils import check_positive_int, init_transformer_weights
from .caption_head import (ImageConditionedDecoder, caption_loss,
                           caption_token_nll)


@MODELS.register_module()
class MaskedCaptionHead(ImageConditionedDecoder):
    """Masked-language modelling of the caption given the image: a share
    of the caption's tokens is replaced by a learned mask embedding, and a
    bidirectional decoder with cross-attention to the image predicts them;
    the loss is over the masked caption and end tokens only (never padding
    or the start token).

    ``mask_ratio=1`` is CapPa's parallel prediction: all ``context_length``
    positions are masked, padding included, so the decoder sees neither the
    words nor the caption's length and reads the caption from the image
    alone (always at the full length, so a caption's logits never depend on
    the other captions of its batch); :meth:`parallel_captions` decodes in
    one pass. Below 1, padding is never masked (MLM, the length known);
    training runs at the full length in both cases.

    ``ar_fraction`` > 0 (with ``mask_ratio=1``) is CapPa's recipe: that
    share of the training steps, spread evenly, is autoregressive teacher
    forcing of the same decoder under a causal mask (the paper's 0.25), the
    rest parallel. A step is a training loss call: with gradient
    accumulation, a micro-batch. Such a head captions autoregressively
    (greedy or beam search, as :class:`CaptionHead`) and scores captions
    that way.

    Args:
        image_dims: Width of the image tokens.
        embed_dims: Width of the decoder.
        vocab_size: Number of token ids.
        context_length: Longest token sequence.
        mask_ratio: Probability that a token is masked, in (0, 1].
        ar_fraction: Share of autoregressive training steps, in [0, 1).
        num_layers, num_heads, mlp_ratio: The decoder blocks.
        pad_id: Padding id, never masked, never a target.
    """

    needs_text_features = False

    def __init__(self, image_dims: int, embed_dims: int, vocab_size: int,
                 context_length: int = 77, mask_ratio: float = 1.0,
                 ar_fraction: float = 0.0, num_layers: int = 2,
                 num_heads: int = 8, mlp_ratio: float = 4.0,
                 pad_id: int = 0) -> None:
        super().__init__(image_dims, embed_dims, vocab_size, num_layers,
                         num_heads, mlp_ratio, causal=False, pad_id=pad_id)
        for key, value in (('mask_ratio', mask_ratio),
                           ('ar_fraction', ar_fraction)):
            if isinstance(value, bool) or not isinstance(value,
                                                         (int, float)):
                raise bad_value(key, value, 'must be a number')
        if not 0.0 < mask_ratio <= 1.0:
            raise bad_value('mask_ratio', mask_ratio,
                            'is the share of caption tokens masked (allowed:'
                            ' 0 < mask_ratio <= 1; 1 is CapPa parallel '
                            'prediction)')
        if not 0.0 <= ar_fraction < 1.0:
            raise bad_value('ar_fraction', ar_fraction,
                            'is the share of autoregressive steps (allowed: '
                            '0 <= ar_fraction < 1; CapPa: 0.25)')
        if ar_fraction > 0 and mask_ratio != 1.0:
            raise ConfigError(
                f'ar_fraction={ar_fraction} mixes autoregressive steps into '
                'parallel prediction: set mask_ratio=1 (CapPa), or '
                'ar_fraction=0 for MLM')
        check_positive_int('context_length', context_length)
        self.mask_ratio, self.ar_fraction = mask_ratio, ar_fraction
        self.context_length = context_length
        self.token_embed = nn.Embedding(vocab_size, embed_dims)
        self.pos_embed = nn.Parameter(torch.zeros(1, context_length,
                                                  embed_dims))
        self.mask_embed = nn.Parameter(torch.zeros(1, 1, embed_dims))
        if ar_fraction > 0:
            # In the checkpoint, so a resumed run keeps the step schedule.
            self.register_buffer('loss_calls',
                                 torch.zeros((), dtype=torch.long))
        self.apply(init_transformer_weights)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)
        nn.init.normal_(self.mask_embed, std=0.02)

    @property
    def autoregressive(self) -> bool:
        """Whether the head captions and scores autoregressively."""
        return self.ar_fraction > 0

    def embed(self, tokens: torch.Tensor, start: int = 0,
              mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, N) ids at positions start ... start + N - 1 -> (B, N, D);
        where the (B, N) bool ``mask`` is True, the mask embedding stands
        in for the token's (the position's embedding is added to both)."""
        end = start + tokens.shape[1]
        if end > self.context_length:
            raise too_many_tokens(end, self.context_length)
        x = self.token_embed(tokens)
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_embed, x)
        return x + self.pos_embed[:, start:end]

    def draw_mask(self, tokens: torch.Tensor,
                  generator: Optional[torch.Generator] = None
                  ) -> torch.Tensor:
        """(B, L) ids -> (B, L) bool, True where hidden: every position at
        ``mask_ratio=1``, else each caption or end token with probability
        ``mask_ratio``."""
        if self.mask_ratio == 1.0:
            return torch.ones_like(tokens, dtype=torch.bool)
        draws = torch.rand(tokens.shape, device=tokens.device,
                           generator=generator)
        mask = (tokens != self.pad_id) & (draws < self.mask_ratio)
        mask[:, 0] = False  # the start token is never a target
        return mask

    def full_length(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) ids padded to (B, context_length)."""
        if tokens.shape[1] > self.context_length:
            raise too_many_tokens(tokens.shape[1], self.context_length)
        return F.pad(tokens, (0, self.context_length - tokens.shape[1]),
                     value=self.pad_id)

    @torch.no_grad()
    def parallel_captions(self, image_tokens: torch.Tensor, length: int,
                          sot_id: int = 1) -> torch.Tensor:
        """(B, M, image_dims) -> (B, length) ids: the start token, then at
        every position the argmax of one pass over an all-masked input of
        ``context_length`` positions (CapPa's parallel decoding; meaningful
        for a head trained with ``mask_ratio=1``).

        Raises:
            ConfigError: ``length`` outside [2, context_length].
        """
        if not 2 <= length <= self.context_length:
            raise ConfigError(f'max_len must lie in [2, context_length='
                              f'{self.context_length}], got {length}')
        B = image_tokens.shape[0]
        blank = torch.full((B, self.context_length), self.pad_id,
                           dtype=torch.long, device=image_tokens.device)
        hidden = torch.ones_like(blank, dtype=torch.bool)
        ids = self(image_tokens, blank, hidden)[:, :length].argmax(dim=-1)
        ids[:, 0] = sot_id  # given, never a training target
        return ids

    def forward(self, image_tokens: torch.Tensor, tokens: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """(B, M, image_dims), (B, L) ids, (B, L) bool mask -> (B, L,
        vocab_size) logits, masked tokens hidden from the decoder."""
        return self.decode(self.embed(tokens, mask=mask), image_tokens)

    def masked_loss(self, image_tokens: torch.Tensor, tokens: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy at the masked positions that hold caption or end
        tokens (0 if none): never padding, never the start token, which
        every caption begins with."""
        logits = self(image_tokens, tokens, mask)
        scored = mask & (tokens != self.pad_id)
        scored[:, 0] = False
        if not scored.any():  # a graph-connected zero keeps DDP's hooks happy
            return logits.sum() * 0.0
        return F.cross_entropy(logits[scored].float(), tokens[scored])

    def next_logits(self, image_tokens: torch.Tensor,
                    tokens: torch.Tensor) -> torch.Tensor:
        """(B, M, image_dims), (B, L) ids -> (B, L, vocab_size) causal
        logits; position t predicts token t + 1 (the autoregressive mode)."""
        return self.decode(self.embed(tokens), image_tokens, causal=True)

    def autoregressive_loss(self, image_tokens: torch.Tensor,
                            tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token cross-entropy, padding ignored."""
        logits = self.next_logits(image_tokens, tokens[:, :-1])
        # The mask embedding is unused in this mode: a graph-connected zero
        # gives it a gradient, so DDP reduces the same parameters each step.
        return caption_loss(logits, tokens[:, 1:], self.pad_id) + \
            0.0 * self.mask_embed.sum()

    def _autoregressive_step(self) -> bool:
        """Whether this training loss call is autoregressive: call n is
        when floor((n + 1) f) > floor(n f), in exact fractions, so f = 0.25
        is every fourth, the same on every rank (no random draw to agree
        on). Calls outside training (``eval()``) do not advance it."""
        calls = int(self.loss_calls)
        if self.training:
            self.loss_calls += 1
        share = Fraction(str(self.ar_fraction))
        return math.floor((calls + 1) * share) > math.floor(calls * share)

    def loss(self, image_tokens: torch.Tensor,
             tokens: torch.Tensor) -> torch.Tensor:
        """This step's loss: autoregressive on CapPa's share of the steps,
        else a drawn mask (:meth:`draw_mask`) and its positions scored.

        Args:
            image_tokens: (B, M, image_dims).
            tokens: (B, L) caption ids: start, caption, end, padding.
        """
        if self.autoregressive and self._autoregressive_step():
            return self.autoregressive_loss(image_tokens, tokens)
        # Always at full length: the bidirectional decoder also reads the
        # padding, which would otherwise depend on the batch's longest
        # caption.
        tokens = self.full_length(tokens)
        return self.masked_loss(image_tokens, tokens, self.draw_mask(tokens))

    def token_nll(self, image_tokens: torch.Tensor, tokens: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, L - 1) NLL of tokens 1 ... L - 1 (caption and end, as
        :class:`CaptionHead` scores), 0 at padding, and the (B, L - 1) mask
        of the scored tokens. Teacher-forced for a head with ``ar_fraction``
        > 0; else read from the image alone, every position masked as in
        parallel decoding. ``mask_ratio=1`` only (an MLM head's likelihood
        depends on the mask drawn)."""
        if self.mask_ratio != 1.0:
            raise ConfigError(
                f'MaskedCaptionHead(mask_ratio={self.mask_ratio}) has no '
                'caption likelihood (it depends on the mask drawn); score '
                'captions with CaptionHead or mask_ratio=1')
        if self.autoregressive:
            logits = self.next_logits(image_tokens, tokens[:, :-1])
        else:
            full = self.full_length(tokens)
            hidden = torch.ones_like(full, dtype=torch.bool)
            # position t's logits score token t itself in this mode
            logits = self(image_tokens, full, hidden)[:, 1:tokens.shape[1]]
        return caption_token_nll(logits, tokens[:, 1:], self.pad_id)
