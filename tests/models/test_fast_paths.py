"""Each speed-up keeps the loss: fused SDPA attention against hand-written
attention, and torch.compile against eager, on a tiny MAE with fixed masks."""
import math
import os

import pytest
import torch

from pixpretrain.models import MAE
from pixpretrain.models.utils import fast_paths, transformer


def _tiny_mae() -> MAE:
    torch.manual_seed(0)
    return MAE(
        backbone=dict(type='VisionTransformer', arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.0),
            img_size=32, patch_size=8),
        neck=dict(type='MAEDecoder', num_patches=16, patch_size=8,
                  encoder_dims=32, decoder_dims=16, decoder_depth=1,
                  decoder_num_heads=2),
        head=dict(type='MAEHead', patch_size=8, norm_pix=True))


def _loss_and_grads(model, images, noise):
    model.zero_grad(set_to_none=True)
    pred, mask = model.reconstruct(images, noise)
    loss = model.head.loss(pred, images, mask)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in
                           model.named_parameters() if p.grad is not None}


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(4, 3, 32, 32, generator=g), torch.rand(4, 16,
                                                              generator=g)


def plain_attention(q, k, v, attn_mask=None, is_causal=False):
    """softmax(q k^T / sqrt(d)) v, written out (no mask needed here)."""
    assert attn_mask is None and not is_causal
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
    return weights @ v


def test_fused_attention_keeps_loss_and_gradients(monkeypatch):
    model = _tiny_mae()
    images, noise = _batch()
    fused_loss, fused_grads = _loss_and_grads(model, images, noise)
    monkeypatch.setattr(transformer.F, 'scaled_dot_product_attention',
                        plain_attention)
    plain_loss, plain_grads = _loss_and_grads(model, images, noise)
    torch.testing.assert_close(fused_loss, plain_loss, rtol=1e-5, atol=1e-6)
    assert fused_grads.keys() == plain_grads.keys()
    for name in fused_grads:
        torch.testing.assert_close(fused_grads[name], plain_grads[name],
                                   rtol=1e-4, atol=1e-6, msg=name)


def _compiled_matches_eager(backend: str) -> None:
    torch._dynamo.reset()
    model = _tiny_mae()
    images, noise = _batch()
    eager_loss, eager_grads = _loss_and_grads(model, images, noise)
    compiled = torch.compile(model.reconstruct, backend=backend)
    model.zero_grad(set_to_none=True)
    pred, mask = compiled(images, noise)
    loss = model.head.loss(pred, images, mask)
    loss.backward()
    torch.testing.assert_close(loss.detach(), eager_loss, rtol=1e-5,
                               atol=1e-6)
    for name, grad in eager_grads.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad,
                                   grad, rtol=1e-4, atol=1e-6, msg=name)


def test_compiled_graph_keeps_loss_and_gradients():
    # aot_eager traces the same forward and backward graphs torch.compile
    # hands to a code generator, in seconds.
    _compiled_matches_eager('aot_eager')


@pytest.mark.skipif(
    not os.environ.get('PIXPRETRAIN_SLOW_TESTS'),
    reason='inductor compiles C++ for minutes on a 2-core CPU; set '
    'PIXPRETRAIN_SLOW_TESTS=1')
def test_inductor_keeps_loss_and_gradients():
    _compiled_matches_eager('inductor')


def _train_losses(optimizer: dict, steps: int = 3,
                  wrapper_type: str = 'OptimWrapper'):
    from mmengine.optim import build_optim_wrapper
    model = _tiny_mae()
    wrapper = build_optim_wrapper(model, dict(
        type=wrapper_type, optimizer=optimizer))
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(2))
    losses = []
    for step in range(steps):
        torch.manual_seed(step)  # the same masks for both optimizers
        log = model.train_step(dict(inputs=images), wrapper)
        losses.append(log['loss'].item())
    return losses, torch.cat([p.detach().flatten()
                              for p in model.parameters()])


def test_fused_adamw_keeps_the_loss_curve():
    adamw = dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
    plain_losses, plain_params = _train_losses(adamw)
    fused_losses, fused_params = _train_losses(dict(adamw, fused=True))
    assert plain_losses[-1] < plain_losses[0]
    torch.testing.assert_close(fused_losses, plain_losses, rtol=1e-5,
                               atol=1e-6)
    # Adam divides by sqrt(v) + eps, which magnifies rounding where a
    # gradient is near zero: weights agree to a tenth of one step (lr).
    torch.testing.assert_close(fused_params, plain_params, rtol=0,
                               atol=1e-4)


def test_bf16_autocast_keeps_the_mae_loss_curve():
    adamw = dict(type='AdamW', lr=2e-3)
    fp32, _ = _train_losses(adamw, steps=8)
    bf16, _ = _train_losses(adamw, steps=8,
                            wrapper_type='pixpretrain.AutocastOptimWrapper')
    assert fp32[-1] < 0.95 * fp32[0]  # it trains
    # bf16 keeps 8 bits of mantissa (relative rounding 2**-9 = 0.2 %); over
    # 8 AdamW steps the losses stay within 2 % of fp32's.
    torch.testing.assert_close(bf16, fp32, rtol=2e-2, atol=0)
    assert bf16 != fp32  # it did run in bf16


def _attention_reference(qkv, heads, causal):
    """Attention written out in float64 on (B, N, 3C) qkv -> (B, N, C)."""
    B, N, C3 = qkv.shape
    q, k, v = qkv.view(B, N, 3, heads, C3 // (3 * heads)).permute(
        2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(
            torch.ones(N, N, dtype=torch.bool).triu(1), float('-inf'))
    return (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C3 // 3)


@pytest.mark.parametrize('causal', [False, True])
def test_cpu_bf16_flash_attention_matches_a_written_out_reference(causal):
    g = torch.Generator().manual_seed(0)
    qkv = torch.randn(2, 7, 3 * 16, generator=g).bfloat16().requires_grad_()
    grad_out = torch.randn(2, 7, 16, generator=g).bfloat16()
    out = fast_paths.CPUBf16FlashAttention.apply(qkv, 4, causal)
    out.backward(grad_out)
    assert out.dtype == qkv.grad.dtype == torch.bfloat16
    ref_qkv = qkv.detach().double().requires_grad_()
    ref = _attention_reference(ref_qkv, 4, causal)
    ref.backward(grad_out.double())
    # fp32 kernel on the bf16 inputs: only the bf16 output rounds
    # (2**-9 relative); a wrong head split or mask is off by O(1).
    torch.testing.assert_close(out.double(), ref.detach(), rtol=8e-3,
                               atol=8e-3)
    torch.testing.assert_close(qkv.grad.double(), ref_qkv.grad, rtol=2e-2,
                               atol=2e-2)


def test_cpu_bf16_attention_keeps_no_fp32_activations():
    """Under CPU bf16 autocast the attention block saves for its backward
    pass only bf16 activations (and the kernel's small fp32 logsumexp), as
    the bf16 kernel would: no fp32 copies of q, k, v or the output."""
    torch.manual_seed(0)
    attn = transformer.MultiheadSelfAttention(32, 4)
    B, N, C = 2, 5, 32
    x = torch.randn(B, N, C, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
            torch.autocast('cpu', dtype=torch.bfloat16):
        out = attn(x)
    out.float().sum().backward()
    activations = [t for t in saved if t.numel() >= B * N * C
                   and not any(t is p for p in attn.parameters())]
    assert activations and all(t.dtype == torch.bfloat16
                               for t in activations), \
        [(tuple(t.shape), t.dtype) for t in activations]
    assert out.dtype == torch.bfloat16 and x.grad is not None
    # Reference: bf16 projections (as autocast), attention written out in
    # fp32 on the bf16 qkv; only the final bf16 projection rounds.
    qkv = nn_linear_bf16(x.detach(), attn.qkv).float()
    mixed = _attention_reference(qkv, 4, False)
    expected = nn_linear_bf16(mixed, attn.proj)
    torch.testing.assert_close(out.float(), expected.float(), rtol=1e-2,
                               atol=1e-2)


def nn_linear_bf16(x: torch.Tensor, linear) -> torch.Tensor:
    """``linear(x)`` with inputs and weights in bf16 (autocast's rule)."""
    return torch.nn.functional.linear(x.bfloat16(), linear.weight.bfloat16(),
                                      linear.bias.bfloat16())


def _moco_loss_and_stem_grad(channels_last: bool, dtype=torch.float32):
    from pixpretrain.models import MoCo
    torch.manual_seed(0)
    model = MoCo(
        backbone=dict(type='ResNet', depth=18, cifar_stem=True),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
                  out_channels=16),
        head=dict(type='MoCoQueueHead', feat_dim=16, queue_len=12,
                  temperature=0.2),
        data_preprocessor=dict(type='PixelDataPreprocessor',
                               channels_last=channels_last))
    model.init_weights()
    model.to(dtype)
    images = [torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8,
                            generator=torch.Generator().manual_seed(i))
              for i in range(2)]
    inputs = model.data_preprocessor(dict(inputs=images), True)['inputs']
    assert inputs[0].is_contiguous(
        memory_format=torch.channels_last) == channels_last
    torch.manual_seed(1)
    loss = model.loss([x.to(dtype) for x in inputs])['loss']
    loss.backward()
    return loss.detach().double(), model.backbone.conv1.weight.grad.double()


def test_channels_last_keeps_the_moco_loss():
    """MoCo's configs feed channels-last images: the same loss, and the
    stem's gradient (the end of the longest backward path) as a float64
    reference gives it."""
    loss, grad = _moco_loss_and_stem_grad(channels_last=True)
    plain_loss, _ = _moco_loss_and_stem_grad(channels_last=False)
    ref_loss, ref_grad = _moco_loss_and_stem_grad(False, torch.float64)
    torch.testing.assert_close(loss, plain_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    # float64 is the reference: fp32's CPU convolution backward rounds
    # differently with the layout and the thread count (measured from 7e-6
    # to 4e-3 relative to float64), while a layout mix-up is off by O(1).
    assert (grad - ref_grad).norm() / ref_grad.norm() < 1e-2


@pytest.mark.parametrize('autocast', [False, True])
def test_recomputing_mlp_equals_the_plain_sequential(autocast):
    """Same outputs and gradients as Linear -> GELU -> Linear (to the bit,
    since the same kernels run on the same inputs), in fp32 and under CPU
    bf16 autocast; the same state-dict keys."""
    torch.manual_seed(0)
    mlp = fast_paths.Mlp(16, 64)
    plain = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(),
                                torch.nn.Linear(64, 16))
    plain.load_state_dict(mlp.state_dict())
    x = torch.randn(3, 5, 16)
    grad = torch.randn(3, 5, 16)
    results = []
    for module in (mlp, plain):
        inputs = x.clone().requires_grad_()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            out = module(inputs)
        out.float().backward(grad)
        results.append([out.float(), inputs.grad] +
                       [p.grad for p in module.parameters()])
    for ours, reference in zip(*results):
        torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-7)
    assert results[0][0].dtype == results[1][0].dtype


def test_recomputing_mlp_keeps_no_gelu_output():
    torch.manual_seed(0)
    mlp = fast_paths.Mlp(8, 32)
    x = torch.randn(2, 3, 8, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        mlp(x)
    hidden = [t for t in saved if t.shape == (2, 3, 32)]
    # only the first Linear's output; the plain Sequential keeps the GELU's
    # output as well
    assert len(hidden) == 1
    assert torch.equal(hidden[0], mlp[0](x))
    # frozen second layer: no weight gradient is computed or returned
    mlp[2].requires_grad_(False)
    mlp(x).sum().backward()
    assert mlp[2].weight.grad is None and x.grad is not None
