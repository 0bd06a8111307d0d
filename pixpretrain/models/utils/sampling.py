"""Autoregressive sampling from a causal transformer, with the key/value
cache it uses (iGPT's image completion, ``IGPT.complete``).

The backbone must offer ``embed(tokens, start)``, ``encode(x, causal)``,
``init_cache(batch, max_len)``, ``decode(tokens, cache)``, ``start_token``
and ``seq_len``, as :class:`PixelGPT` does; its blocks are
:class:`TransformerBlock`, which :func:`cached_block` runs position by
position.
"""
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

# The module, not its function: `progress` is this file's flag's name.
from pixpretrain.utils import progress as bars
from pixpretrain.utils.errors import ConfigError
from .transformer import TransformerBlock


class KVCache:
    """Keys and values of every block for the positions fed so far.

    Allocated once for the whole sequence, so a sampling step writes one
    position instead of concatenating (and copying) the past.

    Args:
        num_layers, batch_size, num_heads, max_len, head_dims: Its shape,
            ``(num_layers, B, heads, max_len, head_dims)`` for each of keys
            and values.
        device, dtype: Where and how the tensors are stored.
    """

    def __init__(self, num_layers: int, batch_size: int, num_heads: int,
                 max_len: int, head_dims: int, device: torch.device,
                 dtype: torch.dtype) -> None:
        shape = (num_layers, batch_size, num_heads, max_len, head_dims)
        self.keys = torch.empty(shape, device=device, dtype=dtype)
        self.values = torch.empty(shape, device=device, dtype=dtype)
        self.max_len = max_len
        self.length = 0

    def check_room(self, num_new: int) -> None:
        """Raise ValueError unless ``num_new`` more positions fit."""
        if self.length + num_new > self.max_len:
            raise ValueError(f'the cache holds {self.max_len} positions; '
                             f'{self.length + num_new} needed')

    def reorder(self, rows: torch.Tensor) -> None:
        """Row i now continues former row ``rows[i]`` (beam search)."""
        self.keys, self.values = self.keys[:, rows], self.values[:, rows]


def cached_block(block: TransformerBlock, x: torch.Tensor,
                  keys: torch.Tensor, values: torch.Tensor,
                  start: int,
                  context_kv: Optional[torch.Tensor] = None) -> torch.Tensor:
    """:class:`TransformerBlock` on new positions ``start..start+N-1`` that
    also attend to the cached earlier ones (causal, inference only).

    The same pre-norm maths as ``TransformerBlock.forward`` (without stochastic
    depth, which is off in eval mode); tests check the two agree.

    Args:
        block: The block whose weights to use.
        x: (B, N, C) inputs at the new positions.
        keys, values: (B, heads, max_len, C / heads) this block's cache;
            positions ``start..start+N-1`` are written here.
        start: Number of positions already cached.
        context_kv: A cross-attention block's keys and values of its
            context (``MultiheadCrossAttention.context_kv``), computed once.
    """
    attn = block.attn
    B, N, C = x.shape
    end = start + N
    q, k, v = attn.qkv(block.norm1(x)).view(
        B, N, 3, attn.num_heads, C // attn.num_heads).permute(2, 0, 3, 1, 4)
    keys[:, :, start:end] = k
    values[:, :, start:end] = v
    if N == 1:  # the newest position sees everything cached
        mask = None
    else:  # new position i sees cached positions <= start + i
        mask = (torch.arange(end, device=x.device)[None, :] <=
                torch.arange(start, end, device=x.device)[:, None])
    out = F.scaled_dot_product_attention(q, keys[:, :, :end],
                                         values[:, :, :end], attn_mask=mask)
    x = x + attn.proj(out.transpose(1, 2).reshape(B, N, C))
    if block.cross_attn is not None:
        x = x + block.cross_attn.attend(block.norm_cross(x), context_kv)
    return x + block.mlp(block.norm2(x))


def cached_blocks(blocks: Sequence[TransformerBlock], x: torch.Tensor,
                  cache: KVCache,
                  context_kv: Optional[Sequence[torch.Tensor]] = None
                  ) -> torch.Tensor:
    """:func:`cached_block` through every block of a causal stack, at the
    cache's next ``N`` positions, advancing the cache by ``N``.

    Args:
        blocks: The stack, one cache layer per block.
        x: (B, N, C) inputs (embedded tokens, or an earlier stack's output).
        cache: The stack's cache, with room for ``N`` more positions.
        context_kv: Per block, its cross-attention keys and values.

    Returns:
        (B, N, C) outputs of the last block (before any final norm).
    """
    cache.check_room(x.shape[1])
    start = cache.length
    for i, block in enumerate(blocks):
        x = cached_block(block, x, cache.keys[i], cache.values[i], start,
                         None if context_kv is None else context_kv[i])
    cache.length = start + x.shape[1]
    return x


def sample_next_token(logits: torch.Tensor, temperature: float = 1.0,
                      top_k: Optional[int] = None,
                      generator: Optional[torch.Generator] = None
                      ) -> torch.Tensor:
    """Draw one token per row from ``softmax(logits / temperature)``,
    restricted to the ``top_k`` most likely when given.

    Args:
        logits: (B, K) scores.
        temperature: > 0; below 1 sharpens, above 1 flattens.
        top_k: Keep the k best tokens, 1 <= k <= K; None keeps all.
        generator: RNG of the draw (on the logits' device).

    Returns:
        (B,) int64 token ids.
    """
    if not temperature > 0:
        raise ConfigError(f'temperature must be > 0, got {temperature}')
    logits = logits.float() / temperature
    if top_k is not None:
        if not 1 <= top_k <= logits.shape[-1]:
            raise ConfigError(
                f'top_k must lie in [1, {logits.shape[-1]}], got {top_k}')
        kth_best = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth_best, float('-inf'))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@torch.no_grad()
def complete(backbone: torch.nn.Module,
             logits: Callable[[torch.Tensor], torch.Tensor],
             prefix: torch.Tensor, length: int, temperature: float = 1.0,
             top_k: Optional[int] = None, use_cache: bool = True,
             generator: Optional[torch.Generator] = None,
             progress: bool = False) -> torch.Tensor:
    """Sample the rest of each sequence, one token at a time.

    With ``use_cache`` every new token costs one position (keys and values
    of the past are kept); without it each step reruns the whole prefix.
    Given the same ``generator`` state both return the same tokens.

    Args:
        backbone: The causal backbone (see the module's docstring).
        logits: (B, D) features of the last position -> (B, K) scores of
            the next token (an AR head's ``logits``).
        prefix: (B, P) the tokens to continue (P may be 0).
        length: Length of the completed sequences, P <= length <= the
            backbone's sequence length.
        temperature, top_k: See :func:`sample_next_token`.
        use_cache: Use the key/value cache.
        generator: RNG of the draws.
        progress: Show a progress bar (one tick per token).

    Returns:
        (B, length) the prefix followed by the sampled tokens.
    """
    B, P = prefix.shape
    if not P <= length <= backbone.seq_len:
        raise ConfigError(
            f'length must lie in [{P}, {backbone.seq_len}], got {length}')
    tokens = prefix
    start = prefix.new_full((B, 1), backbone.start_token)
    feed = torch.cat([start, prefix], dim=1)  # what the next call reads
    cache = backbone.init_cache(B, length) if use_cache else None
    steps = bars.progress(range(P, length), desc='sampling', unit='token',
                          disable=None if progress else True)
    for _ in steps:
        if use_cache:
            features = backbone.decode(feed, cache)[:, -1]
        else:
            features = backbone.encode(
                backbone.embed(torch.cat([start, tokens], 1)), True)[:, -1]
        next_token = sample_next_token(logits(features), temperature, top_k,
                                       generator)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        feed = next_token[:, None]
    return tokens
