"""TimmBackbone's blocks: the ones timm's group_matcher names, checkpointed
with with_cp (same outputs, gradients and batch-norm statistics as the plain
forward, each block run twice) and listed for FSDP2's units."""
import copy

import pytest
import torch

from pixpretrain.models import TimmBackbone
from pixpretrain.utils import ConfigError

timm = pytest.importorskip('timm')

VIT = dict(model_name='vit_tiny_patch16_224', img_size=32, patch_size=8,
           embed_dim=32, depth=2, num_heads=2, out_indices=(0, 1))
RESNET = dict(model_name='resnet10t', out_indices=(1, 4))
BUILDS = dict(vit=VIT, resnet=RESNET)
# A module inside every block, which the recomputation runs again.
INSIDE = dict(vit='attn', resnet='conv1')


def step(backbone, name):
    """Outputs, parameter gradients and the calls of the modules inside
    the blocks in one training step on fixed images."""
    calls = []
    for block in backbone.sharding_blocks():
        getattr(block, INSIDE[name]).register_forward_hook(
            lambda *_: calls.append(1))
    images = torch.randn(4, 3, 32, 32,
                         generator=torch.Generator().manual_seed(1))
    outs = backbone(images)
    weights = [torch.randn(o.shape, generator=torch.Generator().manual_seed(
        i)) for i, o in enumerate(outs)]
    if torch.is_grad_enabled():
        sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    grads = {n: p.grad for n, p in backbone.named_parameters()}
    return outs, grads, len(calls)


@pytest.mark.parametrize('name', sorted(BUILDS))
def test_with_cp_gradients_equal_the_plain_forward(name):
    torch.manual_seed(0)
    plain = TimmBackbone(**BUILDS[name]).train()
    checkpointed = TimmBackbone(**BUILDS[name], with_cp=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    outs, grads, plain_calls = step(plain, name)
    cp_outs, cp_grads, cp_calls = step(checkpointed, name)
    # Every block ran once more, in backward.
    assert plain_calls == len(plain.block_names) > 0
    assert cp_calls == 2 * plain_calls
    for out, cp_out in zip(outs, cp_outs):
        torch.testing.assert_close(cp_out, out, rtol=0, atol=0)
    assert grads.keys() == cp_grads.keys()
    # Every block's weights learn (a ViT's final norm lies after the
    # levels read, and gets no gradient either way).
    assert all(grads[f'model.{block}.{param}'] is not None
               for block in plain.block_names
               for param, _ in plain.model.get_submodule(block)
               .named_parameters())
    for key, grad in grads.items():
        if grad is None:
            assert cp_grads[key] is None, key
            continue
        torch.testing.assert_close(cp_grads[key], grad, rtol=0, atol=0,
                                   msg=key)
    # No batch counted twice in the running statistics.
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(checkpointed.state_dict()[key], value,
                                   rtol=0, atol=0, msg=key)


def test_timms_own_checkpointing_counts_a_batch_twice():
    # Why with_cp does not call timm's set_grad_checkpointing: its
    # recomputation updates the batch norms' running statistics again.
    torch.manual_seed(0)
    plain = timm.create_model('resnet10t', num_classes=0)
    timms = copy.deepcopy(plain)
    timms.set_grad_checkpointing(True)
    images = torch.randn(2, 3, 32, 32)
    for model in (plain, timms):
        model.forward_intermediates(images, indices=[4],
                                    intermediates_only=True)[0].sum() \
            .backward()
    assert plain.layer2[0].bn1.num_batches_tracked == 1
    assert timms.layer2[0].bn1.num_batches_tracked == 2


def test_no_recomputation_without_gradients():
    checkpointed = TimmBackbone(**VIT, with_cp=True).eval()
    plain = TimmBackbone(**VIT).eval()
    plain.load_state_dict(checkpointed.state_dict())
    with torch.no_grad():
        outs, _, calls = step(checkpointed, 'vit')
        ref_outs, _, ref_calls = step(plain, 'vit')
    assert calls == ref_calls == 2
    for out, ref in zip(outs, ref_outs):
        torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_deep_copies_checkpoint_their_own_blocks():
    # MoCo's key encoder is a deep copy of the backbone.
    backbone = TimmBackbone(**RESNET, with_cp=True)
    copied = copy.deepcopy(backbone)
    copied.load_state_dict(backbone.state_dict())
    for one, other in zip(backbone.sharding_blocks(),
                          copied.sharding_blocks()):
        assert one is not other and type(one) is type(other)
    images = torch.randn(2, 3, 32, 32)
    copied(images)[-1].sum().backward()
    assert all(p.grad is None for p in backbone.parameters())
    assert all(p.grad is not None for p in copied.parameters())


def test_blocks_are_timms_per_block_groups():
    assert TimmBackbone(**VIT).block_names == ('blocks.0', 'blocks.1')
    assert TimmBackbone(**RESNET).block_names == (
        'layer1.0', 'layer2.0', 'layer3.0', 'layer4.0')
    # The first stage's downsample is an Identity: no weights, no unit.
    convnext = TimmBackbone('convnext_atto').block_names
    assert convnext[:3] == ('stages.0.blocks.0', 'stages.0.blocks.1',
                            'stages.1.downsample')
    assert len(convnext) == 2 + 2 + 6 + 2 + 3
    blocks = TimmBackbone(**RESNET).sharding_blocks()
    assert all(isinstance(b, timm.models.resnet.BasicBlock) for b in blocks)


def test_with_cp_needs_forward_intermediates():
    with pytest.raises(ConfigError, match=r"backbone.with_cp = True: timm's "
                       r"resnet10t \(features_only\) names no blocks.*"
                       r"feature_api='forward_intermediates'"):
        TimmBackbone('resnet10t', feature_api='features_only', with_cp=True)
    assert TimmBackbone('resnet10t',
                        feature_api='features_only').sharding_blocks() == []
