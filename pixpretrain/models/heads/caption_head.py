"""The autoregressive caption decoder over a text tower's features
(:class:`CaptionHead`, CoCa's multimodal decoder), and what every caption
decoder shares: the image-conditioned blocks and the token losses
(:class:`~.masked_caption_head.MaskedCaptionHead` is the other)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (TransformerBlock, check_positive_int,
                     init_transformer_weights)
from ..utils.sampling import KVCache


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


def caption_token_nll(logits: torch.Tensor, targets: torch.Tensor,
               pad_id: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, L, V) logits, (B, L) ids -> (B, L) cross-entropy, 0 at
    ``pad_id``, and the (B, L) mask of the scored (non-padding) targets."""
    scored = targets != pad_id
    nll = F.cross_entropy(logits.float().transpose(1, 2), targets,
                          reduction='none')
    return nll * scored, scored


class ImageConditionedDecoder(BaseModule):
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

    def init_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty key/value cache of ``max_len`` positions for causal
        decoding through the blocks (:func:`cached_blocks`)."""
        attn = self.blocks[0].attn
        weight = self.logits_proj.weight
        return KVCache(len(self.blocks), batch_size, attn.num_heads,
                       max_len, self.embed_dims // attn.num_heads,
                       weight.device, weight.dtype)

    def decode(self, x: torch.Tensor, image_tokens: torch.Tensor,
               causal: Optional[bool] = None) -> torch.Tensor:
        """(B, L, embed_dims) text features, (B, M, image_dims) image
        tokens -> (B, L, vocab_size) logits; ``causal`` overrides the
        blocks' own attention mask for this call."""
        if image_tokens.shape[-1] != self.image_dims:
            raise ConfigError(
                f'image tokens are {image_tokens.shape[-1]} wide, the '
                f'caption head expects image_dims={self.image_dims}: set '
                "the head's image_dims to the backbone's width")
        for block in self.blocks:
            x = block(x, context=image_tokens, causal=causal)
        return self.logits_proj(self.norm(x))


@MODELS.register_module()
class CaptionHead(ImageConditionedDecoder):
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
        return caption_token_nll(logits, tokens[:, 1:], self.pad_id)
