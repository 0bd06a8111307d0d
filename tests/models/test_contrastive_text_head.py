"""ContrastiveTextHead against a hand-written symmetric InfoNCE."""
import math

import numpy as np
import pytest
import torch

from pixpretrain.models import ContrastiveTextHead
from pixpretrain.utils.errors import ConfigError


def reference_info_nce(image_feats, text_feats, w_image, w_text, scale):
    """Loops over pairs; numpy only."""
    img = image_feats @ w_image.T
    txt = text_feats @ w_text.T
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    n = len(img)
    total = 0.0
    for i in range(n):
        row = [scale * float(img[i] @ txt[j]) for j in range(n)]
        total += -row[i] + math.log(sum(math.exp(v) for v in row))
        col = [scale * float(txt[i] @ img[j]) for j in range(n)]
        total += -col[i] + math.log(sum(math.exp(v) for v in col))
    return total / (2 * n)


@pytest.mark.parametrize('batch,image_dims,text_dims,temperature',
                         [(2, 5, 3, 0.07), (6, 8, 4, 0.5), (9, 3, 7, 1.0)])
def test_loss_matches_hand_written_symmetric_info_nce(batch, image_dims,
                                                      text_dims, temperature):
    torch.manual_seed(batch)
    head = ContrastiveTextHead(image_dims, text_dims, embed_dims=4,
                               init_temperature=temperature)
    image_feats = torch.randn(batch, image_dims, dtype=torch.float64)
    text_feats = torch.randn(batch, text_dims, dtype=torch.float64)
    head.double()
    loss = head.loss(image_feats, text_feats)
    expected = reference_info_nce(
        image_feats.numpy(), text_feats.numpy(),
        head.image_proj.weight.detach().numpy(),
        head.text_proj.weight.detach().numpy(), 1.0 / temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_initial_scale_is_one_over_0_07():
    head = ContrastiveTextHead(4, 4)
    assert head.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert head.scale().item() == pytest.approx(1 / 0.07, rel=1e-6)


def _aligned_pairs(sign: float):
    """A head whose two projections are equal and features where caption i
    is +/- image i: sign +1 makes a larger scale lower the loss (gradient
    pushes t up), sign -1 a smaller one (pushes t down)."""
    torch.manual_seed(0)
    head = ContrastiveTextHead(6, 6, embed_dims=6)
    with torch.no_grad():
        head.text_proj.weight.copy_(head.image_proj.weight)
    image_feats = torch.randn(8, 6)
    text_feats = sign * image_feats + 0.01 * torch.randn(8, 6)
    return head, image_feats, text_feats


def test_logit_scale_never_exceeds_100():
    head, image_feats, text_feats = _aligned_pairs(+1.0)
    optimizer = torch.optim.SGD([head.logit_scale], lr=50.0)
    seen, raw = [], []
    for _ in range(20):
        loss = head.loss(image_feats, text_feats)
        seen.append(head.scale().item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        raw.append(head.logit_scale.item())
        seen.append(head.scale().item())  # read between step and loss
    assert max(raw) > math.log(100)  # a step did overshoot
    assert max(seen) <= 100.0 + 1e-4
    assert seen[-1] == pytest.approx(100.0, rel=1e-3)
    head.loss(image_feats, text_feats)  # brings t itself back in range
    assert head.logit_scale.item() <= math.log(100) + 1e-6


@pytest.mark.parametrize('optim', ['sgd', 'adamw'])
def test_scale_above_the_bound_comes_back_in_one_step(optim):
    # A clamp only inside the loss gives t no gradient beyond ln(100); with
    # no weight decay on t it would stay there for good.
    head, image_feats, text_feats = _aligned_pairs(-1.0)
    with torch.no_grad():
        head.logit_scale.fill_(math.log(100) + 1.0)
    optimizer = torch.optim.SGD([head.logit_scale], lr=0.1) \
        if optim == 'sgd' else torch.optim.AdamW(
            [head.logit_scale], lr=0.01, weight_decay=0.0)
    loss = head.loss(image_feats, text_feats)
    optimizer.zero_grad()
    loss.backward()
    assert head.logit_scale.grad.item() > 0  # pushes t down
    optimizer.step()
    assert head.scale().item() < 100.0
    assert head.logit_scale.item() < math.log(100)


def test_scale_never_falls_below_one():
    head, image_feats, text_feats = _aligned_pairs(-1.0)
    with torch.no_grad():
        head.logit_scale.fill_(0.5)
    optimizer = torch.optim.SGD([head.logit_scale], lr=5.0)
    seen, raw = [], []
    for _ in range(10):
        loss = head.loss(image_feats, text_feats)
        seen.append(head.scale().item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        raw.append(head.logit_scale.item())
        seen.append(head.scale().item())
    assert min(raw) < 0  # the steps did push t below 0
    assert min(seen) >= 1.0
    head.loss(image_feats, text_feats)
    assert head.logit_scale.item() == 0.0


def test_loss_below_the_lower_bound_uses_scale_1():
    torch.manual_seed(2)
    head = ContrastiveTextHead(3, 3, embed_dims=3).double()
    with torch.no_grad():
        head.logit_scale.fill_(-3.0)
    image_feats = torch.randn(4, 3, dtype=torch.float64)
    text_feats = torch.randn(4, 3, dtype=torch.float64)
    expected = reference_info_nce(
        image_feats.numpy(), text_feats.numpy(),
        head.image_proj.weight.detach().numpy(),
        head.text_proj.weight.detach().numpy(), 1.0)
    assert head.loss(image_feats, text_feats).item() == pytest.approx(
        expected, rel=1e-6)


def test_loss_at_the_clamp_uses_scale_100():
    torch.manual_seed(1)
    head = ContrastiveTextHead(3, 3, embed_dims=3).double()
    with torch.no_grad():
        head.logit_scale.fill_(10.0)
    image_feats = torch.randn(4, 3, dtype=torch.float64)
    text_feats = torch.randn(4, 3, dtype=torch.float64)
    expected = reference_info_nce(
        image_feats.numpy(), text_feats.numpy(),
        head.image_proj.weight.detach().numpy(),
        head.text_proj.weight.detach().numpy(), 100.0)
    assert head.loss(image_feats, text_feats).item() == pytest.approx(
        expected, rel=1e-6)


@pytest.mark.parametrize('kwargs,key', [
    (dict(init_temperature=0.001), 'init_temperature'),
    (dict(init_temperature=2.0), 'init_temperature'),
    (dict(max_logit_scale=1.0), 'max_logit_scale'),
    (dict(embed_dims=0), 'embed_dims'),
])
def test_invalid_settings_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        ContrastiveTextHead(4, 4, **kwargs)
