import math

import pytest
import torch

from pixpretrain.models import GlobalLocalClsHead, LinearClsHead
from pixpretrain.utils import ConfigError


def test_label_smoothing_loss_matches_the_formula():
    head = LinearClsHead(in_channels=2, num_classes=3, label_smoothing=0.3)
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0],
                                           [0.0, 0.0]]))
        head.fc.bias.zero_()
    feature_map = torch.tensor([2.0, 1.0]).view(1, 2, 1, 1)   # logits 2, 1, 0
    loss = head.loss(feature_map, None, torch.tensor([[1.0, 0.0, 0.0]]))
    log_z = math.log(math.exp(2) + math.exp(1) + 1)
    log_p = [2 - log_z, 1 - log_z, -log_z]
    q = [0.7 + 0.1, 0.1, 0.1]   # (1 - eps) * one-hot + eps / C
    expected = -sum(qi * lp for qi, lp in zip(q, log_p))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_linear_head_pools_the_map_or_takes_the_cls_token():
    feature_map, cls_token = torch.randn(4, 8, 3, 3), torch.randn(4, 8)
    avg = LinearClsHead(8, 5, pool='avg')
    torch.testing.assert_close(avg(feature_map, cls_token),
                               avg.fc(feature_map.mean((2, 3))))
    cls = LinearClsHead(8, 5, pool='cls', feature_norm=True)
    assert cls(feature_map, cls_token).shape == (4, 5)
    with pytest.raises(ConfigError, match='head.pool'):
        LinearClsHead(8, 5, pool='max')
    with pytest.raises(ConfigError, match='label_smoothing'):
        LinearClsHead(8, 5, label_smoothing=1.0)


def test_global_local_head_shapes():
    head = GlobalLocalClsHead(in_channels=8, num_classes=5,
                              hidden_channels=16, local_grid=2)
    # global avg (8) + global max (8) + 2 x 2 regions (32) features.
    assert head.mlp[1].in_features == 48
    assert isinstance(head.mlp[2], torch.nn.LeakyReLU)
    logits = head(torch.randn(3, 8, 4, 4), None)
    assert logits.shape == (3, 5)
    probabilities = head.predict(torch.randn(3, 8, 5, 7), None)
    assert probabilities.shape == (3, 5)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(3))
    loss = head.loss(torch.randn(3, 8, 4, 4), None, torch.eye(5)[:3])
    loss.backward()
    assert head.mlp[1].weight.grad is not None


def test_global_local_head_sees_where_features_are():
    head = GlobalLocalClsHead(in_channels=1, num_classes=2, local_grid=2)
    left = torch.zeros(1, 1, 4, 4)
    left[..., :, :2] = 1.0
    right = left.flip(-1)
    # Same global average and max; only the region features differ.
    assert not torch.allclose(head(left, None), head(right, None))
