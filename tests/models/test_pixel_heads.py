"""ARPixelHead and MaskedPixelHead against hand-written formulas."""
import math

import numpy as np
import pytest
import torch

from pixpretrain.models import ARPixelHead, MaskedPixelHead
from pixpretrain.utils.errors import ConfigError

D, K = 8, 6


def random_head(cls, **kwargs):
    head = cls(embed_dims=D, num_colors=K, **kwargs)
    torch.nn.init.normal_(head.proj.weight,
                          generator=torch.Generator().manual_seed(0))
    return head


def log_softmax(row):
    row = row - row.max()
    return row - math.log(sum(math.exp(v) for v in row))


def test_ar_loss_is_the_mean_next_token_nll():
    head = random_head(ARPixelHead)
    features = torch.randn(2, 5, D)
    targets = torch.randint(0, K, (2, 5))
    logits = head.logits(features).detach().numpy()
    expected = -np.mean([
        log_softmax(logits[b, t])[targets[b, t]] for b in range(2)
        for t in range(5)
    ])
    loss = head.loss(features, targets)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert head.bits_per_dim(loss).item() == pytest.approx(
        expected / math.log(2), rel=1e-5)


def test_shift_right_puts_the_start_token_first():
    head = ARPixelHead(embed_dims=D, num_colors=K)
    x = torch.tensor([[3, 1, 4, 1, 5]])
    assert head.shift_right(x).tolist() == [[K, 3, 1, 4, 1]]


def test_bert_loss_counts_masked_positions_only():
    head = random_head(MaskedPixelHead)
    features = torch.randn(3, 6, D)
    targets = torch.randint(0, K, (3, 6))
    mask = torch.tensor([[1, 0, 0, 1, 0, 0],
                         [0, 0, 0, 0, 0, 1],
                         [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    logits = head.logits(features).detach().numpy()
    # Mean over each image's masked positions, then over the images that
    # have any.
    per_image = []
    for b in range(3):
        nll = [-log_softmax(logits[b, t])[targets[b, t]]
               for t in range(6) if mask[b, t]]
        if nll:
            per_image.append(np.mean(nll))
    loss = head.loss(features, targets, mask)
    assert loss.item() == pytest.approx(np.mean(per_image), rel=1e-5)

    # Changing anything at unmasked positions leaves the loss alone.
    changed = features.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), D)
    other_targets = targets.masked_fill(~mask, 0)
    assert head.loss(changed, other_targets, mask).item() == pytest.approx(
        loss.item(), rel=1e-6)


def test_bert_masking_is_independent_per_image_at_the_ratio():
    head = MaskedPixelHead(embed_dims=D, num_colors=K, mask_ratio=0.15)
    x = torch.randint(0, K, (64, 256))
    corrupted, mask = head.corrupt(
        x, generator=torch.Generator().manual_seed(0))
    assert corrupted[mask].eq(K + 1).all()  # the mask token
    assert torch.equal(corrupted[~mask], x[~mask])
    assert mask.float().mean().item() == pytest.approx(0.15, abs=0.01)
    counts = mask.sum(1)
    assert len(set(counts.tolist())) > 5  # counts vary from image to image
    assert not (mask[0] == mask[1:]).all(1).any()


def test_untrained_heads_predict_uniformly():
    # The paper zero-initialises the logit projections: loss = ln K exactly.
    features = torch.randn(2, 10, D)
    targets = torch.randint(0, K, (2, 10))
    ar = ARPixelHead(embed_dims=D, num_colors=K)
    bert = MaskedPixelHead(embed_dims=D, num_colors=K)
    mask = torch.ones(2, 10, dtype=torch.bool)
    assert ar.loss(features, targets).item() == pytest.approx(math.log(K))
    assert bert.loss(features, targets, mask).item() == pytest.approx(
        math.log(K))


@pytest.mark.parametrize('kwargs,match', [
    (dict(mask_ratio=0.0), r'head.mask_ratio = .* \(allowed: 0 < mask_ratio < 1\)'),
    (dict(mask_ratio=1.0), r'head.mask_ratio = .* \(allowed: 0 < mask_ratio < 1\)'),
    (dict(num_colors=1), 'num_colors must be an int >= 2'),
    (dict(embed_dims=0), 'embed_dims must be an int >= 1'),
])
def test_invalid_head_settings_fail_at_build(kwargs, match):
    settings = dict(embed_dims=D, num_colors=K)
    settings.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        MaskedPixelHead(**settings)


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_classes=1), r'head.num_classes = 1: must be an int'),
    (dict(embed_dims=0), r'head.embed_dims = 0: must be an int'),
    (dict(label_smoothing=1.0), r'head.label_smoothing = 1.0: must lie in'),
])
def test_invalid_classifier_settings_name_the_key(kwargs, match):
    from pixpretrain.models import PixelClsHead
    settings = dict(embed_dims=D, num_classes=10)
    settings.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        PixelClsHead(**settings)
