"""PixelGPT: causality, layer outputs, the key/value cache, presets."""
import pytest
import torch

from pixpretrain.models import PixelGPT
from pixpretrain.utils.errors import ConfigError

ARCH = dict(embed_dims=32, num_layers=3, num_heads=4, mlp_ratio=2.0)
K, SIDE = 16, 4  # 16 colours, 4 x 4 = 16 tokens


def backbone(**kwargs) -> PixelGPT:
    torch.manual_seed(0)
    return PixelGPT(arch=ARCH, num_colors=K, img_size=SIDE, **kwargs).eval()


def tokens(batch=2, seed=1):
    return torch.randint(0, K, (batch, SIDE * SIDE),
                         generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('t', [0, 5, 14])
def test_causal_features_ignore_later_tokens(t):
    model = backbone()
    x = tokens()
    changed = x.clone()
    changed[:, t + 1:] = (changed[:, t + 1:] + 1 + torch.randint_like(
        changed[:, t + 1:], K - 1)) % K  # every later token differs
    with torch.no_grad():
        before, after = model(x)[0], model(changed)[0]
    assert torch.allclose(before[:, :t + 1], after[:, :t + 1], atol=1e-6)
    assert not torch.allclose(before[:, t + 1:], after[:, t + 1:])


def test_bidirectional_features_see_later_tokens():
    model = backbone(causal=False)
    x = tokens()
    changed = x.clone()
    changed[:, -1] = (changed[:, -1] + 1) % K
    with torch.no_grad():
        assert not torch.allclose(model(x)[0][:, 0], model(changed)[0][:, 0])


@pytest.mark.parametrize('causal', [True, False])
def test_gradient_of_position_t_reaches_only_allowed_inputs(causal):
    model = backbone()
    embedded = model.embed(tokens()).detach().requires_grad_()
    features = model.encode(embedded, causal=causal)
    t = 6
    # A random read-out: the plain sum of LayerNorm'd features is constant.
    readout = torch.randn(32, generator=torch.Generator().manual_seed(2))
    (grad, ) = torch.autograd.grad((features[:, t] @ readout).sum(), embedded)
    reach = grad.abs().sum(dim=(0, 2))  # (N,) gradient mass per position
    assert (reach[:t + 1] > 0).all()
    if causal:
        assert (reach[t + 1:] == 0).all()
    else:
        assert (reach[t + 1:] > 0).all()


def test_every_block_is_reachable_and_the_last_is_normed():
    model = backbone()
    x = tokens()
    with torch.no_grad():
        layers = model.forward_intermediates(x, [0, 1, -1])
        final = model.encode(model.embed(x))
        # The same blocks run by hand.
        h = model.embed(x)
        by_hand = []
        for block in model.blocks:
            h = block(h, causal=True)
            by_hand.append(h)
    assert [f.shape for f in layers] == [(2, 16, 32)] * 3
    assert torch.allclose(layers[0], by_hand[0], atol=1e-6)
    assert torch.allclose(layers[1], by_hand[1], atol=1e-6)
    assert torch.allclose(layers[2], model.norm(by_hand[2]), atol=1e-6)
    assert torch.allclose(layers[2], final, atol=1e-6)


def test_grids_are_read_in_raster_order():
    model = backbone()
    x = tokens()
    with torch.no_grad():
        assert torch.equal(model(x.view(2, SIDE, SIDE))[0], model(x)[0])


@pytest.mark.parametrize('chunks', [[16], [1] * 16, [5, 1, 1, 9], [7, 9]])
def test_cached_decoding_equals_the_full_causal_pass(chunks):
    model = backbone()
    x = tokens()
    cache = model.init_cache(batch_size=2)
    pieces, start = [], 0
    with torch.no_grad():
        for size in chunks:
            pieces.append(model.decode(x[:, start:start + size], cache))
            start += size
        full = model.encode(model.embed(x), causal=True)
    assert cache.length == 16
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-5)


def test_cache_overflow_is_refused():
    model = backbone()
    cache = model.init_cache(batch_size=1, max_len=4)
    with pytest.raises(ValueError, match='holds 4 positions'):
        model.decode(tokens(1)[:, :5], cache)


@pytest.mark.parametrize('arch,params', [('s', 76e6), ('m', 455e6),
                                         ('l', 1.4e9)])
def test_presets_have_the_papers_parameter_counts(arch, params):
    # Built on the meta device: shapes only, no memory.
    with torch.device('meta'):
        model = PixelGPT(arch=arch, num_colors=512, img_size=32)
    count = sum(p.numel() for p in model.parameters())
    assert count == pytest.approx(params, rel=0.03)


@pytest.mark.parametrize('kwargs,match', [
    (dict(arch='xl'), "backbone.arch = 'xl': unknown arch"),
    (dict(num_colors=1), r'backbone.num_colors = 1: .* \(allowed: >= 2\)'),
    (dict(img_size=0), 'backbone.img_size = '),
    (dict(out_indices=5), 'layer index 5 is out of range'),
    (dict(arch=dict(embed_dims=30, num_layers=1, num_heads=4,
                    mlp_ratio=4.0)), 'backbone.arch.num_heads = 4: must divide'),
])
def test_invalid_settings_fail_at_build_naming_the_key(kwargs, match):
    settings = dict(arch=ARCH, num_colors=K, img_size=SIDE)
    settings.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        PixelGPT(**settings)


def test_too_long_or_float_inputs_are_refused():
    model = backbone()
    with pytest.raises(ValueError, match='exceed the 16 positions'):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match='integer tokens'):
        model(torch.zeros(1, 16))
