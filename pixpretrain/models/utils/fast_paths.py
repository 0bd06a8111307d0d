"""CPU fast paths of the transformer block: custom autograd functions
that save less for the backward pass than the plain modules would.

:class:`TransformerBlock` (``transformer.py``) uses them; each has a test
that it computes what the plain module computes
(``tests/models/test_fast_paths.py``), so reading the block needs none of
this file.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn


def _heads(x: torch.Tensor, parts: int, num_heads: int) -> List[torch.Tensor]:
    """(B, N, parts * C) -> parts x (B, heads, N, C / heads) views."""
    B, N, width = x.shape
    return [t.transpose(1, 2) for t in x.view(
        B, N, parts, num_heads, width // (parts * num_heads)).unbind(2)]


class CPUBf16FlashAttention(torch.autograd.Function):
    """Attention of bf16 ``qkv`` by torch's CPU flash kernel run in fp32,
    keeping only bf16 tensors for the backward pass.

    On CPUs the flash kernel runs 1.5-3x slower in bf16 than in fp32 for
    heads of 32-64 dims (forward + backward, measured on AVX512-BF16), and
    fp32 is the more precise. Calling it through ``F.scaled_dot_product_
    attention`` on fp32 copies would keep those copies, and the fp32 output,
    alive until the backward pass: 18 bytes per token and channel against
    the bf16 kernel's 8. Here the backward pass recasts the saved bf16 qkv
    and output instead, so memory equals the bf16 kernel's.

    ``apply(qkv, num_heads, is_causal)``: qkv (B, N, 3C) bf16, the fused
    projection's output -> (B, N, C) bf16.
    """

    @staticmethod
    def forward(ctx, qkv: torch.Tensor, num_heads: int,
                is_causal: bool) -> torch.Tensor:
        B, N, C3 = qkv.shape
        with torch.autocast('cpu', enabled=False):
            q, k, v = _heads(qkv.float(), 3, num_heads)
            out, logsumexp = \
                torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                    q, k, v, 0.0, is_causal)
        # (B, heads, N, C / heads) -> (B, N, C)
        out = out.transpose(1, 2).reshape(B, N, C3 // 3).to(torch.bfloat16)
        ctx.save_for_backward(qkv, out, logsumexp)
        ctx.num_heads, ctx.is_causal = num_heads, is_causal
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        qkv, out, logsumexp = ctx.saved_tensors
        heads = ctx.num_heads
        with torch.autocast('cpu', enabled=False):
            q, k, v = _heads(qkv.float(), 3, heads)
            grads = torch.ops.aten.\
                _scaled_dot_product_flash_attention_for_cpu_backward(
                    _heads(grad_out.float(), 1, heads)[0], q, k, v,
                    _heads(out.float(), 1, heads)[0], logsumexp, 0.0,
                    ctx.is_causal)
        del q, k, v  # the fp32 copies: free before the bf16 gradient exists
        # 3 x (B, heads, N, C / heads) fp32 -> (B, N, 3C) bf16, qkv's
        # layout, written in place: no fp32 (B, N, 3C) intermediate.
        grad_qkv = qkv.new_empty(qkv.shape)
        for grad, part in zip(grads, _heads(grad_qkv, 3, heads)):
            part.copy_(grad)
        return grad_qkv, None, None


class Mlp(nn.Sequential):
    """Linear -> GELU -> Linear that keeps only the hidden pre-activation
    for the backward pass and recomputes the GELU there.

    A plain ``nn.Sequential`` keeps both the GELU's input and its output
    (the second Linear's input): 2 x 4C values per token and block, a fifth
    of a ViT block's saved activations. Recomputing the GELU costs one
    elementwise pass per backward step. The layout (``0``, ``1``, ``2``)
    and so the state-dict keys are those of the plain ``nn.Sequential``.

    Args:
        embed_dims: Input and output width C.
        hidden: Hidden width.
    """

    def __init__(self, embed_dims: int, hidden: int) -> None:
        super().__init__(nn.Linear(embed_dims, hidden), nn.GELU(),
                         nn.Linear(hidden, embed_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., C)."""
        fc1, _, fc2 = self
        return GeluLinear.apply(fc1(x), fc2.weight, fc2.bias)


class GeluLinear(torch.autograd.Function):
    """``F.linear(F.gelu(h), weight, bias)``, saving ``h`` and not the GELU
    output (recomputed in the backward pass, under the forward's autocast
    state, so it is the same tensor).

    ``apply(h, weight, bias)``: h (..., H), weight (C, H), bias (C,) ->
    (..., C).
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        device = h.device.type
        ctx.autocast = (device, torch.is_autocast_enabled(device),
                        torch.get_autocast_dtype(device))
        ctx.save_for_backward(h, weight, bias)
        return F.linear(F.gelu(h), weight, bias)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        h, weight, bias = ctx.saved_tensors
        device, enabled, dtype = ctx.autocast
        with torch.autocast(device, dtype, enabled=enabled):
            gelu = F.gelu(h)
        # The forward Linear ran in grad_out's dtype (autocast's choice).
        compute = grad_out.dtype
        grad_2d = grad_out.reshape(-1, grad_out.shape[-1])  # (M, C)
        grad_h = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # (..., C) @ (C, H) -> (..., H), back through the GELU
            grad_gelu = (grad_out @ weight.to(compute)).to(gelu.dtype)
            grad_h = torch.ops.aten.gelu_backward(
                grad_gelu, h.to(gelu.dtype)).to(h.dtype)
        if ctx.needs_input_grad[1]:
            # (C, M) @ (M, H) -> (C, H)
            grad_weight = (grad_2d.t() @ gelu.reshape(
                -1, gelu.shape[-1]).to(compute)).to(weight.dtype)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_2d.sum(0).to(bias.dtype)
        return grad_h, grad_weight, grad_bias
