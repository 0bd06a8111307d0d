"""IGPT: the wiring of both objectives, sampling with and without cache."""
import math

import pytest
import torch

from pixpretrain.models import IGPT
from pixpretrain.models.utils.sampling import sample_next_token
from pixpretrain.utils.errors import ConfigError

ARCH = dict(embed_dims=32, num_layers=2, num_heads=4, mlp_ratio=2.0)


def igpt(heads=('ar', ), num_colors=16, side=4, causal=True,
         random_logits=True) -> IGPT:
    torch.manual_seed(0)
    head_cfgs = dict(
        ar=dict(type='ARPixelHead', embed_dims=32, num_colors=num_colors),
        bert=dict(type='MaskedPixelHead', embed_dims=32,
                  num_colors=num_colors),
        clf=dict(type='PixelClsHead', embed_dims=32, num_classes=3))
    model = IGPT(
        backbone=dict(type='PixelGPT', arch=ARCH, num_colors=num_colors,
                      img_size=side, causal=causal),
        head={name: head_cfgs[name] for name in heads}).eval()
    if random_logits:  # zero-initialised logits would make every test pass
        for _, head in model.named_heads():
            projection = head.fc if hasattr(head, 'fc') else head.proj
            torch.nn.init.normal_(projection.weight, std=0.5)
    return model


def grids(batch=2, num_colors=16, side=4, seed=1):
    return torch.randint(0, num_colors, (batch, side, side),
                         generator=torch.Generator().manual_seed(seed))


def ar_logits(model, grid):
    head = model.ar_head
    return head.logits(model._features(head.shift_right(grid.flatten(1)),
                                       causal=True))


def test_ar_loss_at_initialisation_is_ln_513():
    model = igpt(num_colors=512, side=8, random_logits=False)
    losses = model(grids(4, 512, 8), mode='loss')
    # 512 colours scored from zero-initialised logits: ln 512, within 0.002
    # of the ln 513 of the 513-token vocabulary.
    assert losses['loss_ar'].item() == pytest.approx(math.log(512), abs=1e-4)
    assert losses['loss_ar'].item() == pytest.approx(math.log(513), abs=0.01)
    assert losses['bits_per_dim'].item() == pytest.approx(9.0, abs=1e-3)


@pytest.mark.parametrize('t', [0, 7, 14])
def test_ar_logits_up_to_t_ignore_tokens_after_t(t):
    model = igpt()
    grid = grids()
    changed = grid.clone().flatten(1)
    changed[:, t + 1:] = (changed[:, t + 1:] + 1) % 16
    changed = changed.view_as(grid)
    with torch.no_grad():
        before, after = ar_logits(model, grid), ar_logits(model, changed)
    assert torch.allclose(before[:, :t + 1], after[:, :t + 1], atol=1e-6)
    # Position t + 1 reads token t + 1... no: it reads token t (the shift),
    # so the first logits to move are those of position t + 2.
    if t + 2 < 16:
        assert not torch.allclose(before[:, t + 2:], after[:, t + 2:])


def test_each_head_gets_its_own_pass_with_its_own_attention():
    model = igpt(heads=('ar', 'bert'))
    grid = grids()
    x = grid.flatten(1)
    torch.manual_seed(3)
    losses = model(grid, mode='loss')
    assert set(losses) == {'loss_ar', 'bits_per_dim', 'loss_bert'}

    ar, bert = model.head['ar'], model.head['bert']
    with torch.no_grad():
        expected_ar = ar.loss(model._features(ar.shift_right(x), True), x)
        torch.manual_seed(3)
        corrupted, mask = bert.corrupt(x)
        expected_bert = bert.loss(model._features(corrupted, False), x, mask)
        wrong_bert = bert.loss(model._features(corrupted, True), x, mask)
    assert losses['loss_ar'].item() == pytest.approx(expected_ar.item())
    assert losses['loss_bert'].item() == pytest.approx(expected_bert.item())
    assert wrong_bert.item() != pytest.approx(expected_bert.item())


def test_extract_feat_shifts_for_a_causal_backbone():
    model = igpt()
    grid = grids()
    x = grid.flatten(1)
    with torch.no_grad():
        (features, ) = model.extract_feat(grid)
        (layer0, ) = model.extract_feat(grid, layers=[0])
        expected = model.backbone(model.ar_head.shift_right(x))[0]
    assert torch.allclose(features, expected, atol=1e-6)
    assert layer0.shape == (2, 16, 32)


@pytest.mark.parametrize('prefix_len,temperature,top_k',
                         [(0, 1.0, None), (6, 0.7, 5), (15, 1.3, None)])
def test_cached_sampling_matches_uncached_token_for_token(
        prefix_len, temperature, top_k):
    model = igpt()
    prefix = grids(3).flatten(1)[:, :prefix_len]
    runs = []
    for use_cache in (True, False):
        generator = torch.Generator().manual_seed(7)
        runs.append(model.complete(prefix, 16, temperature, top_k,
                                   use_cache=use_cache, generator=generator))
    assert runs[0].shape == (3, 16)
    assert torch.equal(runs[0][:, :prefix_len], prefix)
    assert torch.equal(runs[0], runs[1])
    other = model.complete(prefix, 16, temperature, top_k,
                           generator=torch.Generator().manual_seed(8))
    assert not torch.equal(other, runs[0])  # the seed matters


def test_top_1_sampling_is_greedy_decoding():
    model = igpt()
    prefix = grids(2).flatten(1)[:, :8]
    sampled = model.complete(prefix, 16, top_k=1,
                             generator=torch.Generator().manual_seed(0))
    tokens = prefix
    for _ in range(8):  # greedy by hand, full passes
        with torch.no_grad():
            logits = ar_logits(model, torch.cat(
                [tokens, tokens.new_zeros(2, 16 - tokens.shape[1])], 1))
        tokens = torch.cat([tokens, logits[:, tokens.shape[1]].argmax(
            -1, keepdim=True)], 1)
    assert torch.equal(sampled, tokens)


def test_top_k_never_draws_outside_the_k_best():
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(0))
    best = logits.topk(3, dim=-1).indices
    generator = torch.Generator().manual_seed(1)
    for _ in range(200):
        drawn = sample_next_token(logits, 2.0, 3, generator)
        assert (best == drawn[:, None]).any(1).all()


@pytest.mark.parametrize('kwargs,match', [
    (dict(temperature=0.0), 'temperature must be > 0'),
    (dict(top_k=0), 'top_k must lie in'),
    (dict(top_k=17), 'top_k must lie in'),
])
def test_invalid_sampling_settings_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        sample_next_token(torch.zeros(1, 16), **kwargs)


def test_completing_needs_an_ar_head():
    with pytest.raises(ConfigError, match='needs an ARPixelHead'):
        igpt(heads=('bert', ), causal=False).complete(
            torch.zeros(1, 0, dtype=torch.long), 16)


@pytest.mark.parametrize('head,match', [
    (dict(type='ARPixelHead', embed_dims=16, num_colors=16),
     r"head.embed_dims = 16: must equal the backbone's embed_dims "
     r'\(allowed: 32\)'),
    (dict(type='ARPixelHead', embed_dims=32, num_colors=8),
     r'head.num_colors = 8: .* \(allowed: 16\)'),
    ([dict(type='ARPixelHead', embed_dims=32, num_colors=16)] * 2,
     'at most one ARPixelHead'),
    (dict(type='MAEHead'),
     'IGPT takes ARPixelHead, MaskedPixelHead and PixelClsHead'),
])
def test_parts_that_disagree_fail_at_build(head, match):
    with pytest.raises(ConfigError, match=match):
        IGPT(backbone=dict(type='PixelGPT', arch=ARCH, num_colors=16,
                           img_size=4), head=head)


def test_pictures_show_original_kept_half_and_completions(tmp_path):
    import numpy as np

    from pixpretrain.engine.hooks import model_pictures
    palette = np.stack([np.full(3, 16 * i) for i in range(16)]).astype(float)
    np.save(tmp_path / 'palette.npy', palette)
    model = igpt()
    model.palette = str(tmp_path / 'palette.npy')
    tokens = grids(2)
    picture = model_pictures(model, tokens)['completions']
    # 2 rows of 4 x 4 panels (original, kept half, 2 completions), 2 px gaps.
    assert picture.shape == (2 * 4 + 2, 4 * 4 + 3 * 2, 3)
    original = picture[:4, :4, 0]
    np.testing.assert_array_equal(original, 16 * tokens[0].numpy())
    kept = picture[:4, 6:10, 0]
    np.testing.assert_array_equal(kept[:2], original[:2])
    assert (kept[2:] == 128).all()
    for completion in (picture[:4, 12:16, 0], picture[:4, 18:22, 0]):
        np.testing.assert_array_equal(completion[:2], original[:2])


def test_pictures_need_the_palette():
    with pytest.raises(ConfigError, match='model.palette'):
        igpt().pictures(grids(1))


def labelled(labels):
    from mmengine.structures import BaseDataElement
    return [BaseDataElement(gt_label=torch.tensor(label)) for label in labels]


def test_classifier_is_cross_entropy_on_the_mean_of_the_ar_pass():
    model = igpt(heads=('ar', 'clf'))
    grid, labels = grids(3), [2, 0, 1]
    with torch.no_grad():
        losses = model(grid, labelled(labels), mode='loss')
        features = model._features(
            model.ar_head.shift_right(grid.flatten(1)), causal=True)
    head = model.cls_head
    pooled = features.mean(dim=1)                      # (B, D)
    logits = pooled @ head.fc.weight.T + head.fc.bias  # (B, C)
    by_hand = sum(torch.logsumexp(logits[i], 0) - logits[i, y]
                  for i, y in enumerate(labels)) / len(labels)
    assert losses['loss_clf'].item() == pytest.approx(by_hand.item(),
                                                      rel=1e-5)
    assert set(losses) == {'loss_ar', 'bits_per_dim', 'loss_clf'}


def test_untrained_classifier_scores_ln_num_classes():
    model = igpt(heads=('clf', ), random_logits=False)
    losses = model(grids(4), labelled([0, 1, 2, 0]), mode='loss')
    assert set(losses) == {'loss_clf'}
    assert losses['loss_clf'].item() == pytest.approx(math.log(3), abs=1e-6)


def test_joint_loss_trains_the_backbone_through_both_heads():
    model = igpt(heads=('ar', 'clf')).train()
    losses = model(grids(2), labelled([1, 2]), mode='loss')
    first_block = next(model.backbone.parameters())
    for key in ('loss_ar', 'loss_clf'):
        grad, = torch.autograd.grad(losses[key], first_block,
                                    retain_graph=True)
        assert grad.abs().sum() > 0, key


def test_predict_gives_the_classifier_probabilities():
    model = igpt(heads=('ar', 'clf'))
    grid = grids(3)
    with torch.no_grad():
        samples = model(grid, labelled([0, 1, 2]), mode='predict')
        features = model._features(
            model.ar_head.shift_right(grid.flatten(1)), causal=True)
        expected = model.cls_head.logits(features).softmax(-1)
    scores = torch.stack([s.pred_score for s in samples])
    torch.testing.assert_close(scores, expected)
    assert [int(s.pred_label) for s in samples] == \
        expected.argmax(-1).tolist()
    assert scores.sum(-1).allclose(torch.ones(3))


def test_classifier_needs_labels_and_predict_needs_a_classifier():
    with pytest.raises(ConfigError, match='gt_label'):
        igpt(heads=('ar', 'clf'))(grids(2), mode='loss')
    with pytest.raises(ConfigError, match='PixelClsHead'):
        igpt(heads=('ar', ))(grids(2), mode='predict')


@pytest.mark.parametrize('tokens, words', [
    (torch.full((2, 4, 4), 16), r'tokens must lie in \[0, num_colors=16\), '
     'got 16 to 16'),  # the start token: never in an image
    (torch.full((2, 4, 4), -1), 'got -1 to -1'),
    (torch.zeros(2, 4, 4), 'takes integer colour indices'),
])
def test_tokens_outside_the_palette_are_refused(tokens, words):
    model = igpt()
    with pytest.raises(ConfigError, match=words):
        model.extract_feat(tokens, layers=[0])
    with pytest.raises(ConfigError, match=words):
        model.complete(tokens.flatten(1)[:, :4], 16)
