import math

import pytest
import torch

from pixpretrain.models import MoCoQueueHead, NonLinearNeck
from pixpretrain.utils.errors import ConfigError


def _unit(rows):
    t = torch.tensor(rows, dtype=torch.float64)
    return t / t.norm(dim=1, keepdim=True)


def test_loss_is_infonce_over_positive_and_queue():
    head = MoCoQueueHead(feat_dim=2, queue_len=3, temperature=0.5).double()
    head.queue.copy_(_unit([[1, 0], [0, 1], [-1, 1]]))
    query = torch.tensor([[3.0, 4.0], [1.0, -2.0]], dtype=torch.float64)
    key = torch.tensor([[0.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    expected = 0.0
    for q, k in zip(query.tolist(), key.tolist()):
        qn = [v / math.hypot(*q) for v in q]
        kn = [v / math.hypot(*k) for v in k]
        pos = math.exp((qn[0] * kn[0] + qn[1] * kn[1]) / 0.5)
        neg = sum(math.exp((qn[0] * n[0] + qn[1] * n[1]) / 0.5)
                  for n in head.queue.tolist())
        expected += -math.log(pos / (pos + neg)) / 2
    assert head.loss(query, key).item() == pytest.approx(expected, rel=1e-12)


def test_enqueue_wraps_around_a_queue_the_batch_does_not_divide():
    head = MoCoQueueHead(feat_dim=4, queue_len=10)
    batches = [torch.randn(4, 4) for _ in range(3)]
    for batch in batches:
        head.enqueue(batch)
    unit = [torch.nn.functional.normalize(b, dim=1) for b in batches]
    assert head.queue_ptr.item() == 2  # 12 keys into 10 slots
    torch.testing.assert_close(head.queue[8:10], unit[2][:2])  # third batch
    torch.testing.assert_close(head.queue[0:2], unit[2][2:])   # wraps
    torch.testing.assert_close(head.queue[2:4], unit[0][2:])   # oldest left
    torch.testing.assert_close(head.queue[4:8], unit[1])


def test_loss_backward_survives_the_enqueue_that_follows():
    head = MoCoQueueHead(feat_dim=4, queue_len=8)
    query = torch.randn(3, 4, requires_grad=True)
    key = torch.randn(3, 4)
    loss = head.loss(query, key)
    head.enqueue(key)
    loss.backward()
    assert query.grad is not None


def test_queue_shorter_than_the_batch_is_a_config_error():
    head = MoCoQueueHead(feat_dim=4, queue_len=3)
    with pytest.raises(ConfigError, match=r'head.queue_len = 3: .* \(allowed: >= 4\)'):
        head.enqueue(torch.randn(4, 4))


@pytest.mark.parametrize('kwargs, key', [
    (dict(queue_len=0), 'head.queue_len'),
    (dict(temperature=0.0), 'head.temperature'),
    (dict(feat_dim=0), 'head.feat_dim'),
])
def test_invalid_head_settings(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        MoCoQueueHead(**kwargs)


def test_neck_pools_and_projects():
    neck = NonLinearNeck(8, 16, 4, num_layers=3, with_bn=True,
                         with_last_bn=True)
    out = neck((torch.randn(2, 3, 3, 3), torch.randn(5, 8, 2, 2)))
    assert out.shape == (5, 4)
    kinds = [type(m).__name__ for m in neck.mlp]
    assert kinds == ['Linear', 'BatchNorm1d', 'ReLU', 'Linear',
                     'BatchNorm1d', 'ReLU', 'Linear', 'BatchNorm1d']
    assert neck.mlp[0].bias is None and not neck.mlp[-1].affine
    linear = NonLinearNeck(8, 8, 4, num_layers=1)
    features = torch.randn(2, 8, 3, 3)
    torch.testing.assert_close(
        linear(features), linear.mlp[0](features.mean(dim=(2, 3))))
    with pytest.raises(ConfigError, match='neck.num_layers'):
        NonLinearNeck(8, 8, 4, num_layers=0)
