"""Caption decoders conditioned on an image's tokens: autoregressive
(:class:`CaptionHead`, as CoCa's multimodal decoder and CapPa's AR mode) and
masked (:class:`MaskedCaptionHead`, MLM and CapPa's parallel prediction)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (TransformerBlock, check_positive_int,
                     init_transformer_weights)


def caption_loss(logits: torch.Tensor, targets: torch.Tensor,
                 pad_id: int = 0) -> torch.Tensor:
    """Mean cross-entropy over the target tokens that are not padding.

    Args:
        logits: (B, L, V) scores.
        targets: (B, L) int64 token ids; ``pad_id`` entries are ignored.
        pad_id: The padding id.
    """
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(),
                           ignore_index=pad_id)


def _token_nll(logits: torch.Tensor, targets: torch.Tensor,
               pad_id: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, L, V) logits, (B, L) ids -> (B, L) cross-entropy, 0 at
    ``pad_id``, and the (B, L) mask of the scored (non-padding) targets."""
    scored = targets != pad_id
    nll = F.cross_entropy(logits.float().transpose(1, 2), targets,
                          reduction='none')
    return nll * scored, scored


class _ImageConditionedDecoder(BaseModule):
    """Blocks with self-attention, cross-attention to the image tokens and
    an MLP; final LayerNorm; a linear read-out over the vocabulary."""

    def __init__(self, image_dims: int, embed_dims: int, vocab_size: int,
                 num_layers: int, num_heads: int, mlp_ratio: float,
                 causal: bool, pad_id: int) -> None:
        super().__init__()
        for key, value in (('image_dims', image_dims),
                           ('embed_dims', embed_dims),
                           ('vocab_size', vocab_size),
                           ('num_layers', num_layers)):
            check_positive_int(key, value)
        if not 0 <= pad_id < vocab_size:
            raise bad_value('pad_id', pad_id,
                            f'must be a token id (allowed: 0 ... '
                            f'{vocab_size - 1})')
        self.image_dims, self.embed_dims = image_dims, embed_dims
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dims, num_heads, mlp_ratio, causal=causal,
                             cross_attention=True, context_dims=image_dims)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.logits_proj = nn.Linear(embed_dims, vocab_size)

    def decode(self, x: torch.Tensor,
               image_tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, embed_dims) text features, (B, M, image_dims) image
        tokens -> (B, L, vocab_size) logits."""
        if image_tokens.shape[-1] != self.image_dims:
            raise ValueError(f'image tokens are {image_tokens.shape[-1]} '
                             f'wide, the head expects image_dims='
                             f'{self.image_dims}')
        for block in self.blocks:
            x = block(x, context=image_tokens)
        return self.logits_proj(self.norm(x))


@MODELS.register_module()
class CaptionHead(_ImageConditionedDecoder):
    """Multimodal text decoder trained by teacher forcing: causal
    self-attention over the caption's unimodal features (a text tower's
    :meth:`TextTransformer.encode_tokens`), cross-attention to the image
    tokens; the output at position t predicts token t + 1.

    Args:
        image_dims: Width of the image tokens.
        text_dims: Width of the text features (the text tower's).
        vocab_size: Number of token ids (the text tower's).
        num_layers, num_heads, mlp_ratio: The decoder blocks.
        pad_id: Padding id, ignored by the loss.
    """

    needs_text_features = True

    def __init__(self, image_dims: int, text_dims: int, vocab_size: int,
                 num_layers: int = 2, num_heads: int = 8,
                 mlp_ratio: float = 4.0, pad_id: int = 0) -> None:
        super().__init__(image_dims, text_dims, vocab_size, num_layers,
                         num_heads, mlp_ratio, causal=True, pad_id=pad_id)
        self.text_dims = text_dims
        self.apply(init_transformer_weights)

    def forward(self, text_feats: torch.Tensor,
                image_tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, text_dims), (B, M, image_dims) -> (B, L, vocab_size)
        next-token logits."""
        return self.decode(text_feats, image_tokens)

    def loss(self, image_tokens: torch.Tensor, tokens: torch.Tensor,
             text_feats: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token cross-entropy, padding ignored.

        Args:
            image_tokens: (B, M, image_dims).
            tokens: (B, L) caption ids: start, caption, end, padding.
            text_feats: (B, L, text_dims) the text tower's features of
                ``tokens`` (causal: position t saw tokens <= t).
        """
        logits = self(text_feats[:, :-1], image_tokens)  # (B, L - 1, V)
        return caption_loss(logits, tokens[:, 1:], self.pad_id)

    def token_nll(self, image_tokens: torch.Tensor, tokens: torch.Tensor,
                  text_feats: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, L - 1) teacher-forced NLL of tokens 1 ... L - 1 (caption and
        end), 0 at padding, and the (B, L - 1) mask of the scored tokens;
        arguments as :meth:`loss`, whose value is the mean over them."""
        logits = self(text_feats[:, :-1], image_tokens)  # (B, L - 1, V)
        return _token_nll(logits, tokens[:, 1:], self.pad_id)


@MODELS.register_module()
class MaskedCaptionHead(_ImageConditionedDecoder):
    """Masked-language modelling of the caption given the image: a share
    of the caption's tokens is replaced by a learned mask embedding, and a
    bidirectional decoder with cross-attention to the image predicts them;
    the loss is over the masked caption tokens only (never padding).

    ``mask_ratio=1`` is CapPa's parallel prediction (Tschannen et al. 2023):
    every position is masked, padding included, so the decoder sees neither
    the words nor the caption's length and reads the caption from the image
    alone; :meth:`parallel_captions` then decodes in one pass. Below 1,
    padding is never masked (BERT-style MLM with the caption's length
    known).

    Args:
        image_dims: Width of the image tokens.
        embed_dims: Width of the decoder.
        vocab_size: Number of token ids.
        context_length: Longest token sequence.
        mask_ratio: Probability that a token is masked, in (0, 1].
        num_layers, num_heads, mlp_ratio: The decoder blocks.
        pad_id: Padding id, never masked, never a target.
    """

    needs_text_features = False

    def __init__(self, image_dims: int, embed_dims: int, vocab_size: int,
                 context_length: int = 77, mask_ratio: float = 1.0,
                 num_layers: int = 2, num_heads: int = 8,
                 mlp_ratio: float = 4.0, pad_id: int = 0) -> None:
        super().__init__(image_dims, embed_dims, vocab_size, num_layers,
                         num_heads, mlp_ratio, causal=False, pad_id=pad_id)
        if not 0.0 < mask_ratio <= 1.0:
            raise bad_value('mask_ratio', mask_ratio,
                            'is the share of caption tokens masked (allowed:'
                            ' 0 < mask_ratio <= 1; 1 is CapPa parallel '
                            'prediction)')
        check_positive_int('context_length', context_length)
        self.mask_ratio = mask_ratio
        self.context_length = context_length
        self.token_embed = nn.Embedding(vocab_size, embed_dims)
        self.pos_embed = nn.Parameter(torch.zeros(1, context_length,
                                                  embed_dims))
        self.mask_embed = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.apply(init_transformer_weights)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)
        nn.init.normal_(self.mask_embed, std=0.02)

    def draw_mask(self, tokens: torch.Tensor,
                  generator: Optional[torch.Generator] = None
                  ) -> torch.Tensor:
        """(B, L) ids -> (B, L) bool, True where hidden: every position at
        ``mask_ratio=1``, else each non-padding token with probability
        ``mask_ratio``."""
        if self.mask_ratio == 1.0:
            return torch.ones_like(tokens, dtype=torch.bool)
        draws = torch.rand(tokens.shape, device=tokens.device,
                           generator=generator)
        return (tokens != self.pad_id) & (draws < self.mask_ratio)

    @torch.no_grad()
    def parallel_captions(self, image_tokens: torch.Tensor,
                          length: int) -> torch.Tensor:
        """(B, M, image_dims) -> (B, length) ids, every position the argmax
        of one pass over an all-masked input (CapPa's parallel decoding;
        meaningful for a head trained with ``mask_ratio=1``)."""
        B = image_tokens.shape[0]
        blank = torch.full((B, length), self.pad_id, dtype=torch.long,
                           device=image_tokens.device)
        hidden = torch.ones_like(blank, dtype=torch.bool)
        return self(image_tokens, blank, hidden).argmax(dim=-1)

    def forward(self, image_tokens: torch.Tensor, tokens: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """(B, M, image_dims), (B, L) ids, (B, L) bool mask -> (B, L,
        vocab_size) logits, masked tokens hidden from the decoder."""
        if tokens.shape[1] > self.context_length:
            raise ValueError(f'{tokens.shape[1]} tokens exceed '
                             f'context_length={self.context_length}')
        x = torch.where(mask[..., None], self.mask_embed,
                        self.token_embed(tokens))
        x = x + self.pos_embed[:, :tokens.shape[1]]
        return self.decode(x, image_tokens)

    def masked_loss(self, image_tokens: torch.Tensor, tokens: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy at the masked non-padding positions (0 if none)."""
        logits = self(image_tokens, tokens, mask)
        scored = mask & (tokens != self.pad_id)
        if not scored.any():  # a graph-connected zero keeps DDP's hooks happy
            return logits.sum() * 0.0
        return F.cross_entropy(logits[scored].float(), tokens[scored])

    def loss(self, image_tokens: torch.Tensor,
             tokens: torch.Tensor) -> torch.Tensor:
        """Draw a mask (:meth:`draw_mask`) and score its positions.

        Args:
            image_tokens: (B, M, image_dims).
            tokens: (B, L) caption ids: start, caption, end, padding.
        """
        return self.masked_loss(image_tokens, tokens, self.draw_mask(tokens))

    def token_nll(self, image_tokens: torch.Tensor, tokens: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, L) NLL of every non-padding token (start token included)
        read from the image alone, every position masked as in parallel
        decoding, 0 at padding, and the (B, L) mask of the scored tokens;
        ``mask_ratio=1`` only (an MLM head's depends on the mask drawn)."""
        if self.mask_ratio != 1.0:
            raise ConfigError(
                f'MaskedCaptionHead(mask_ratio={self.mask_ratio}) has no '
                'caption likelihood (it depends on the mask drawn); score '
                'captions with CaptionHead or mask_ratio=1')
        hidden = torch.ones_like(tokens, dtype=torch.bool)
        return _token_nll(self(image_tokens, tokens, hidden), tokens,
                          self.pad_id)
