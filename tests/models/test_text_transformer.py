"""TextTransformer: causal, read out at end-of-text, CLIP's presets."""
import pytest
import torch

from pixpretrain.models import TextTransformer
from pixpretrain.utils.errors import ConfigError

SOT, EOT = 1, 2


def tiny(**kwargs):
    torch.manual_seed(0)
    return TextTransformer(
        arch=dict(embed_dims=16, num_layers=2, num_heads=2, mlp_ratio=2.0),
        vocab_size=20, context_length=10, **kwargs).eval()


def rows(*bodies, length=10):
    out = torch.zeros(len(bodies), length, dtype=torch.long)
    for row, body in zip(out, bodies):
        ids = [SOT, *body, EOT]
        row[:len(ids)] = torch.tensor(ids)
    return out


def test_feature_is_the_final_norm_output_at_eot():
    model = tiny()
    tokens = rows([5, 6, 7], [8])
    (feats, ) = model(tokens)
    with torch.no_grad():
        x = model.token_embed(tokens) + model.pos_embed
        for block in model.blocks:
            x = block(x)
        x = model.norm(x)
    torch.testing.assert_close(feats, torch.stack([x[0, 4], x[1, 2]]))


def test_padding_and_batch_mates_do_not_change_a_caption_feature():
    model = tiny()
    alone = model(rows([5, 6, 7], length=5))[0]
    padded = model(rows([5, 6, 7], length=10))[0]
    with_longer = model(rows([5, 6, 7], [9, 9, 9, 9, 9, 9, 9]))[0][:1]
    torch.testing.assert_close(padded, alone)
    torch.testing.assert_close(with_longer, alone, rtol=1e-5, atol=1e-6)
    # Tokens after EOT are invisible too (causal attention).
    after = rows([5, 6, 7])
    after[0, 6:] = 11
    torch.testing.assert_close(model(after)[0], alone, rtol=1e-5, atol=1e-6)


def test_tokens_before_eot_do_change_it():
    model = tiny()
    assert not torch.allclose(model(rows([5, 6, 7]))[0],
                              model(rows([5, 6, 8]))[0])


def test_blocks_are_causal():
    assert all(block.attn.causal for block in tiny().blocks)


@pytest.mark.parametrize('arch,width,heads,layers', [('b', 512, 8, 12),
                                                     ('base', 512, 8, 12),
                                                     ('l', 768, 12, 12)])
def test_clip_presets(arch, width, heads, layers):
    model = TextTransformer(arch=arch, vocab_size=300, context_length=77)
    assert model.embed_dims == width
    assert len(model.blocks) == layers
    assert model.blocks[0].attn.num_heads == heads
    assert model.pos_embed.shape == (1, 77, width)


def test_ids_outside_the_vocabulary_fail_clearly():
    with pytest.raises(ValueError, match='vocab_size=20'):
        tiny()(rows([25]))


def test_a_row_without_eot_fails_clearly():
    tokens = rows([5, 6])
    tokens[0, 3] = 0
    with pytest.raises(ValueError, match='eot_id=2'):
        tiny()(tokens)


def test_invalid_settings_name_the_key():
    with pytest.raises(ConfigError, match='eot_id'):
        TextTransformer(arch='t', vocab_size=2, eot_id=2)
    with pytest.raises(ConfigError, match='context_length'):
        TextTransformer(arch='t', context_length=1)
    with pytest.raises(ConfigError, match='unknown arch'):
        TextTransformer(arch='huge')


@pytest.mark.parametrize('chunks', [[10], [1] * 10, [3, 1, 6], [4, 6]])
def test_cached_decoding_equals_encode_tokens(chunks):
    model = tiny()
    tokens = torch.randint(0, 20, (2, 10),
                           generator=torch.Generator().manual_seed(0))
    cache = model.init_cache(batch_size=2)
    pieces, start = [], 0
    with torch.no_grad():
        for size in chunks:
            pieces.append(model.decode(tokens[:, start:start + size], cache))
            start += size
        full = model.encode_tokens(tokens)
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5,
                               rtol=1e-5)


def test_a_cache_longer_than_the_context_or_overfilled_is_refused():
    model = tiny()
    with pytest.raises(ValueError, match='context_length=10'):
        model.init_cache(batch_size=1, max_len=11)
    cache = model.init_cache(batch_size=1, max_len=4)
    with pytest.raises(ValueError, match='holds 4 positions; 5 needed'):
        model.decode(torch.ones(1, 5, dtype=torch.long), cache)
