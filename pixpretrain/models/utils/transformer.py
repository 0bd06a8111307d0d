"""Pre-norm transformer block shared by every token model in pixpretrain.

The block's CPU speed-ups (attention and MLP autograd functions that keep
less for the backward pass) live in ``fast_paths.py``.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from pixpretrain.utils.errors import bad_value
from .checkpointing import checkpointed
from .fast_paths import CPUBf16FlashAttention, Mlp


def divisors(n: int) -> List[int]:
    """The positive divisors of ``n``, ascending (for "allowed" lists)."""
    return [d for d in range(1, n + 1) if n % d == 0]


def check_positive_int(key: str, value: object) -> int:
    """``value`` if it is an int >= 1, else a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_value(key, value, 'must be a positive int (allowed: 1, 2, '
                        '3, ...)')
    return value


def drop_path_rates(drop_path_rate: object, num_layers: int) -> List[float]:
    """Stochastic depth per block, rising linearly from 0 to
    ``drop_path_rate`` over ``num_layers`` blocks; a ConfigError naming
    ``drop_path_rate`` unless 0 <= it < 1 (a probability of dropping)."""
    if isinstance(drop_path_rate, bool) or not isinstance(
            drop_path_rate, (int, float)) or not 0 <= drop_path_rate < 1:
        raise bad_value('drop_path_rate', drop_path_rate,
                        'is the last block\'s probability of skipping its '
                        'branch (allowed: 0 <= drop_path_rate < 1, e.g. 0.1)')
    return torch.linspace(0, drop_path_rate, num_layers).tolist()


def check_num_heads(num_heads: int, embed_dims: int,
                    heads_key: str = 'num_heads',
                    dims_key: str = 'embed_dims') -> None:
    """Attention heads must split the width into equal parts.

    Args:
        num_heads: Heads asked for.
        embed_dims: Token width they split.
        heads_key: Config key of ``num_heads``, for the message.
        dims_key: Config key of ``embed_dims``, for the message.

    Raises:
        ConfigError: ``"<heads_key> = 5: must divide <dims_key> = 32 into
        equal heads (allowed: 1, 2, 4, 8, 16, 32)"``.
    """
    check_positive_int(dims_key, embed_dims)
    if (isinstance(num_heads, bool) or not isinstance(num_heads, int)
            or num_heads < 1 or embed_dims % num_heads):
        allowed = ', '.join(str(d) for d in divisors(embed_dims))
        raise bad_value(heads_key, num_heads,
                        f'must divide {dims_key} = {embed_dims} into equal '
                        f'heads (allowed: {allowed})')


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep


class MultiheadSelfAttention(nn.Module):
    """Self-attention with one fused QKV projection and torch's SDPA kernel.

    Args:
        embed_dims: Token width C.
        num_heads: Number of heads; must divide ``embed_dims``.
        causal: Mask attention to earlier positions (autoregressive models).
        qkv_bias: Learn a bias in the QKV projection.
    """

    def __init__(self, embed_dims: int, num_heads: int, causal: bool = False,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        check_num_heads(num_heads, embed_dims)
        self.num_heads = num_heads
        self.causal = causal
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None,
                causal: Optional[bool] = None) -> torch.Tensor:
        """(B, N, C) -> (B, N, C).

        ``causal`` overrides the constructor's flag for this call: one set
        of weights can then serve a causal and a bidirectional objective
        (iGPT's AR and BERT heads on one backbone).
        """
        causal = self.causal if causal is None else causal
        B, N, C = x.shape
        # (B, N, 3C) -> 3 x (B, N, heads, C / heads), seen as (B, heads, N, .)
        # Unbinding the qkv axis (not permuting it to the front) lets the
        # backward pass assemble the qkv gradient with one copy, not two.
        qkv = self.qkv(x)
        is_causal = causal and attn_mask is None
        if qkv.dtype == torch.bfloat16 and qkv.device.type == 'cpu' and \
                attn_mask is None:
            return self.proj(
                CPUBf16FlashAttention.apply(qkv, self.num_heads, is_causal))
        q, k, v = qkv.view(B, N, 3, self.num_heads,
                           C // self.num_heads).unbind(2)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            attn_mask=attn_mask, is_causal=is_causal)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class MultiheadCrossAttention(nn.Module):
    """Queries from one sequence attend to another (a caption to an image's
    patch tokens), with torch's SDPA kernel.

    Args:
        embed_dims: Width C of the queries and of the output.
        num_heads: Number of heads; must divide ``embed_dims``.
        context_dims: Width of the attended tokens; ``embed_dims`` if None.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 context_dims: Optional[int] = None) -> None:
        super().__init__()
        check_num_heads(num_heads, embed_dims)
        self.num_heads = num_heads
        self.q = nn.Linear(embed_dims, embed_dims)
        self.kv = nn.Linear(context_dims or embed_dims, 2 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def context_kv(self, context: torch.Tensor) -> torch.Tensor:
        """(B, M, context_dims) -> keys and values, (2, B, heads, M, C /
        heads); computed once per image when generating."""
        B, M, _ = context.shape
        C = self.proj.in_features
        return self.kv(context).view(B, M, 2, self.num_heads,
                                     C // self.num_heads).permute(2, 0, 3, 1,
                                                                  4)

    def attend(self, x: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        """(B, N, C) queries and :meth:`context_kv`'s output -> (B, N, C)."""
        B, N, C = x.shape
        q = self.q(x).view(B, N, self.num_heads,
                           C // self.num_heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1])
        return self.proj(out.transpose(1, 2).reshape(B, N, C))

    def forward(self, x: torch.Tensor,
                context: torch.Tensor) -> torch.Tensor:
        """(B, N, C) queries, (B, M, context_dims) context -> (B, N, C)."""
        return self.attend(x, self.context_kv(context))


class TransformerBlock(nn.Module):
    """x + attn(norm(x)), then x + mlp(norm(x)) (pre-norm, as ViT and GPT-2).

    Args:
        embed_dims: Token width C.
        num_heads: Attention heads.
        mlp_ratio: Hidden width of the MLP relative to C.
        causal: Causal attention mask.
        qkv_bias: Bias in the QKV projection.
        drop_path: Stochastic-depth probability of both residual branches.
        layer_norm_eps: Epsilon of the LayerNorms.
        cross_attention: Add a cross-attention branch between the
            self-attention and the MLP (a multimodal decoder block, as in
            CoCa); ``forward`` then needs ``context``.
        context_dims: Width of the context tokens; ``embed_dims`` if None.
        with_cp: Activation checkpointing: keep only the block's input for
            the backward pass and recompute the rest there.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float = 4.0,
                 causal: bool = False, qkv_bias: bool = True,
                 drop_path: float = 0.0,
                 layer_norm_eps: float = 1e-6,
                 cross_attention: bool = False,
                 context_dims: Optional[int] = None,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        hidden = int(embed_dims * mlp_ratio)
        self.norm1 = nn.LayerNorm(embed_dims, eps=layer_norm_eps)
        self.attn = MultiheadSelfAttention(embed_dims, num_heads, causal,
                                           qkv_bias)
        if cross_attention:
            self.norm_cross = nn.LayerNorm(embed_dims, eps=layer_norm_eps)
            self.cross_attn = MultiheadCrossAttention(embed_dims, num_heads,
                                                      context_dims)
        else:
            self.cross_attn = None
        self.norm2 = nn.LayerNorm(embed_dims, eps=layer_norm_eps)
        self.mlp = Mlp(embed_dims, hidden)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None,
                causal: Optional[bool] = None,
                context: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, N, C) -> (B, N, C); ``causal`` as in
        :meth:`MultiheadSelfAttention.forward`; ``context`` (B, M,
        context_dims) is what a cross-attention block attends to."""
        if self.with_cp:
            return checkpointed(self._residuals, x, attn_mask, causal,
                                context)
        return self._residuals(x, attn_mask, causal, context)

    def _residuals(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor],
                   causal: Optional[bool],
                   context: Optional[torch.Tensor]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), attn_mask, causal))
        if self.cross_attn is not None:
            if context is None:
                raise ValueError('a cross-attention block needs context')
            x = x + self.drop_path(
                self.cross_attn(self.norm_cross(x), context))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def init_transformer_weights(module: nn.Module) -> None:
    """MAE's initialisation: xavier-uniform Linear, LayerNorm weight 1 bias 0.

    Apply with ``model.apply(init_transformer_weights)``.
    """
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
