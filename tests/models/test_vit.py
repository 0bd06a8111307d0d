import math

import pytest
import torch

from pixpretrain.models import VisionTransformer
from pixpretrain.models.utils import TransformerBlock, sincos_2d
from pixpretrain.utils.errors import ConfigError


def tiny_vit(**kwargs):
    arch = dict(embed_dims=16, num_layers=4, num_heads=2, mlp_ratio=2.0)
    return VisionTransformer(arch=arch, img_size=16, patch_size=4, **kwargs)


def test_sincos_matches_formula():
    D, h, w = 8, 2, 3
    emb = sincos_2d(D, h, w, cls_token=True)[0]
    assert emb.shape == (1 + h * w, D)
    assert torch.all(emb[0] == 0)
    quarter = D // 4
    for index in range(h * w):
        row, col = divmod(index, w)
        for i in range(quarter):
            omega = 1 / 10000**(i / quarter)
            got = emb[1 + index]
            assert got[i] == pytest.approx(math.sin(col * omega), abs=1e-6)
            assert got[quarter + i] == pytest.approx(math.cos(col * omega), abs=1e-6)
            assert got[2 * quarter + i] == pytest.approx(math.sin(row * omega), abs=1e-6)
            assert got[3 * quarter + i] == pytest.approx(math.cos(row * omega), abs=1e-6)


def test_out_indices_and_every_block_reachable():
    model = tiny_vit(out_indices=(1, -1)).eval()
    x = torch.randn(2, 3, 16, 16)
    outs = model(x)
    assert [o.shape for o in outs] == [(2, 17, 16)] * 2
    every = model.forward_intermediates(x, range(4))
    assert torch.allclose(every[1], outs[0])
    # The last block's output is the encoder's normed output.
    assert torch.allclose(every[3], model.encode(model.embed(x)), atol=1e-6)


def test_attention_is_sdpa_and_equals_explicit_softmax():
    torch.manual_seed(0)
    block = TransformerBlock(8, 2, causal=True).eval()
    x = torch.randn(2, 5, 8)
    attn = block.attn
    q, k, v = attn.qkv(x).view(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / 2.0  # sqrt(4)
    scores = scores.masked_fill(torch.ones(5, 5).triu(1).bool(), float('-inf'))
    manual = attn.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 8))
    assert torch.allclose(attn(x), manual, atol=1e-6)


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='xl'), "backbone.arch = 'xl': unknown arch"),
    (dict(arch='t', img_size=30, patch_size=4), 'backbone.img_size = .* divisible by'),
    (dict(arch=dict(embed_dims=12, num_layers=1, num_heads=5, mlp_ratio=1.0)),
     'backbone.arch.num_heads = 5'),
    (dict(arch='t', out_indices=12), 'out of range'),
    (dict(arch=dict(embed_dims=12, num_layer=1, num_heads=2, mlp_ratio=1.0)),
     r'backbone.arch.num_layer = 1: is no arch key \(allowed: embed_dims, '
     r'mlp_ratio, num_heads, num_layers; did you mean '
     r'backbone.arch.num_layers\?\)'),
])
def test_bad_settings_fail_at_build(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        VisionTransformer(**kwargs)


def test_presets_have_paper_sizes():
    vit_b = VisionTransformer(arch='b')
    n = sum(p.numel() for p in vit_b.parameters())
    assert 85e6 < n < 87e6  # ViT-B/16: 86 M without the classifier
