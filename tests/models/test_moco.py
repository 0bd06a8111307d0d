import itertools

import pytest
import torch
from mmengine.logging import MessageHub

from pixpretrain.models import MoCo, cosine_momentum
from pixpretrain.utils.errors import ConfigError


def tiny_moco(**kwargs):
    cfg = dict(
        backbone=dict(type='ResNet', depth=18,
                      norm_cfg=dict(type='SplitBN', num_splits=2)),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
                  out_channels=16),
        head=dict(type='MoCoQueueHead', feat_dim=16, queue_len=12,
                  temperature=0.2),
        momentum=0.9)
    cfg.update(kwargs)
    model = MoCo(**cfg)
    model.init_weights()
    return model


def views(batch=4, size=16):
    return [torch.randn(batch, 3, size, size) for _ in range(2)]


def query_params(model):
    return [p.detach().clone() for p in itertools.chain(
        model.backbone.parameters(), model.neck.parameters())]


def key_params(model):
    return [p.detach().clone() for p in model.momentum_encoder.parameters()]


def test_key_encoder_starts_as_query_encoder_and_is_in_the_state_dict():
    torch.manual_seed(0)
    model = tiny_moco()
    for q, k in zip(query_params(model), key_params(model)):
        assert torch.equal(q, k)
    state = model.state_dict()
    assert 'momentum_encoder.backbone.layer4.1.conv2.weight' in state
    assert 'momentum_encoder.neck.mlp.0.weight' in state
    assert {'head.queue', 'head.queue_ptr'} <= set(state)


def test_key_encoder_gets_no_gradient_and_follows_the_ema_exactly():
    torch.manual_seed(0)
    model = tiny_moco()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    # One step so that query and key encoders differ.
    model.loss(views())['loss'].backward()
    optimizer.step()
    optimizer.zero_grad()
    q_before, k_before = query_params(model), key_params(model)
    assert any(not torch.equal(q, k) for q, k in zip(q_before, k_before))

    loss = model.loss(views())['loss']
    loss.backward()
    for param in model.momentum_encoder.parameters():
        assert not param.requires_grad and param.grad is None
    m = 0.9
    for q, k_old, k_new in zip(q_before, k_before, key_params(model)):
        torch.testing.assert_close(k_new, m * k_old + (1 - m) * q,
                                   rtol=1e-6, atol=1e-7)
    # The optimizer leaves the key encoder alone.
    optimizer.step()
    for k_then, k_now in zip(key_params(model)[:3], list(
            model.momentum_encoder.parameters())[:3]):
        assert torch.equal(k_then, k_now)


def test_each_step_enqueues_its_keys():
    torch.manual_seed(0)
    model = tiny_moco(shuffle_bn=False)
    key_view = views()[1]
    model.loss([torch.randn_like(key_view), key_view])
    assert model.head.queue_ptr.item() == 4
    # In eval mode BN uses running statistics; in train mode the keys were
    # computed with batch statistics of the same batch, so recompute so.
    with torch.no_grad():
        enc = model.momentum_encoder
        expected = enc['neck'](enc['backbone'](key_view))
    torch.testing.assert_close(model.head.queue[:4],
                               torch.nn.functional.normalize(expected, dim=1))


def test_shuffle_bn_on_one_device_changes_keys_only_through_split_bn():
    torch.manual_seed(0)
    model = tiny_moco()
    images = torch.randn(8, 3, 16, 16)
    torch.manual_seed(1)
    shuffled = model.encode_keys(images)
    model.shuffle_bn = False
    plain = model.encode_keys(images)
    # Split BN groups differ after the shuffle, so keys differ a little...
    assert not torch.allclose(shuffled, plain)
    # ...but with plain BN (whole-batch statistics) they are the same.
    bn_model = tiny_moco(backbone=dict(type='ResNet', depth=18))
    with_shuffle = bn_model.encode_keys(images)
    bn_model.shuffle_bn = False
    torch.testing.assert_close(with_shuffle, bn_model.encode_keys(images),
                               rtol=1e-4, atol=1e-5)


def test_cosine_momentum_reads_the_runner_progress():
    assert cosine_momentum(0.99, 0, 100) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 50, 100) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 100, 100) == pytest.approx(1.0)
    model = tiny_moco(momentum=0.99, momentum_schedule='cosine')
    hub = MessageHub.get_instance('test_moco_cosine')
    hub.update_info('iter', 25)
    hub.update_info('max_iters', 100)
    assert model.current_momentum() == pytest.approx(
        1 - 0.01 * (1 + 2**-0.5) / 2)
    assert model.loss(views())['momentum'].item() == pytest.approx(
        model.current_momentum())


def test_predict_sets_backbone_feature_and_projection():
    model = tiny_moco().eval()
    samples = model.predict(torch.randn(3, 3, 16, 16))
    assert samples[0].feature.shape == (512, )
    assert samples[0].projection.shape == (16, )


@pytest.mark.parametrize('kwargs, key', [
    (dict(momentum=1.5), 'momentum must lie in'),
    (dict(momentum_schedule='linear'), 'momentum_schedule'),
    (dict(head=dict(type='MoCoQueueHead', feat_dim=8, queue_len=4)),
     r'head.feat_dim = 8: must equal neck.out_channels \(allowed: 16\)'),
    (dict(neck=dict(type='NonLinearNeck', in_channels=256, hid_channels=32,
                    out_channels=16)),
     r'neck.in_channels = 256: must equal the backbone width '
     r'\(allowed: 512\)'),
])
def test_invalid_settings_fail_at_build(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        tiny_moco(**kwargs)


def test_one_view_is_rejected():
    with pytest.raises(ValueError, match='two views'):
        tiny_moco().loss(torch.randn(2, 3, 16, 16))
