"""with_cp=True: the same outputs, gradients and batch-norm statistics as the
plain forward, with each block's inside run twice (once more in backward)."""
import copy

import pytest
import torch

from pixpretrain.models import (PixelGPT, ResNet, TextTransformer,
                                VisionTransformer)

TINY = dict(embed_dims=16, num_layers=2, num_heads=2, mlp_ratio=2.0)


def vit(with_cp):
    return VisionTransformer(arch=TINY, img_size=16, patch_size=4,
                             drop_path_rate=0.5, out_indices=(0, 1),
                             with_cp=with_cp)


def pixel_gpt(with_cp):
    return PixelGPT(arch=TINY, num_colors=8, img_size=4, with_cp=with_cp)


def text(with_cp):
    return TextTransformer(arch=TINY, vocab_size=20, context_length=8,
                           drop_path_rate=0.3, with_cp=with_cp)


def resnet(with_cp):
    return ResNet(depth=18, cifar_stem=True, out_indices=(0, 3),
                  with_cp=with_cp)


def inputs(name):
    gen = torch.Generator().manual_seed(1)
    if name == 'pixel_gpt':
        return torch.randint(0, 10, (3, 16), generator=gen)
    if name == 'text':
        tokens = torch.randint(3, 20, (3, 8), generator=gen)
        tokens[:, 5] = 2  # end of text
        return tokens
    side = 16 if name == 'vit' else 8
    return torch.randn(4, 3, side, side, generator=gen)


BUILDERS = dict(vit=vit, pixel_gpt=pixel_gpt, text=text, resnet=resnet)
# The modules whose forward the recomputation runs again: a transformer
# block's attention (its own forward is the checkpointed call), a residual
# block itself.
RECOMPUTED = dict(vit='attn', pixel_gpt='attn', text='attn', resnet='conv1')


def run(model, x, name):
    """Outputs, parameter gradients and the number of calls of the
    recomputed modules in one training step."""
    calls = []
    for module_name, module in model.named_modules():
        if module_name.endswith(RECOMPUTED[name]) and '.' in module_name:
            module.register_forward_hook(lambda *_: calls.append(1))
    torch.manual_seed(7)  # stochastic depth draws the same masks
    outs = model(x)
    weights = [torch.randn(o.shape, generator=torch.Generator().manual_seed(
        i)) for i, o in enumerate(outs)]
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    return outs, grads, len(calls)


@pytest.mark.parametrize('name', sorted(BUILDERS))
def test_gradients_equal_the_plain_forward(name):
    torch.manual_seed(0)
    plain = BUILDERS[name](False).train()
    checkpointed = BUILDERS[name](True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = inputs(name)
    outs, grads, plain_calls = run(plain, x, name)
    cp_outs, cp_grads, cp_calls = run(checkpointed, x, name)
    assert plain_calls > 0 and cp_calls == 2 * plain_calls
    for out, cp_out in zip(outs, cp_outs):
        torch.testing.assert_close(cp_out, out, rtol=0, atol=0)
    assert grads.keys() == cp_grads.keys()
    for key, grad in grads.items():
        assert grad is not None, key
        torch.testing.assert_close(cp_grads[key], grad, rtol=0, atol=0,
                                   msg=key)
    # The recomputation counts no batch twice in the running statistics.
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(checkpointed.state_dict()[key], value,
                                   rtol=0, atol=0, msg=key)


def test_no_recomputation_without_gradients():
    model = vit(True).eval()
    plain = copy.deepcopy(model)
    plain.blocks.apply(lambda m: setattr(m, 'with_cp', False))
    x = inputs('vit')
    with torch.no_grad():
        for out, ref in zip(model(x), plain(x)):
            torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_cross_attention_block_checkpoints_its_context_too():
    # A caption decoder's block: its context (image tokens) reaches the
    # recomputation, and the image side gets the same gradient.
    from pixpretrain.models.utils import TransformerBlock
    gen = torch.Generator().manual_seed(2)
    plain = TransformerBlock(16, 2, causal=True, cross_attention=True,
                             context_dims=8)
    checkpointed = copy.deepcopy(plain)
    checkpointed.with_cp = True
    grads = []
    for block in (plain, checkpointed):
        x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(3),
                        requires_grad=True)
        context = torch.randn(2, 7, 8, generator=gen.manual_seed(4),
                              requires_grad=True)
        block(x, context=context).square().sum().backward()
        grads.append((x.grad, context.grad,
                      [p.grad for p in block.parameters()]))
    (x0, c0, p0), (x1, c1, p1) = grads
    assert torch.equal(x0, x1) and torch.equal(c0, c1)
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
