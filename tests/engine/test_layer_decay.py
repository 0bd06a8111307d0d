import pytest
from mmengine.optim import build_optim_wrapper

from pixpretrain.models import BasePretrainer
from pixpretrain.registry import register_all_modules


def test_lr_follows_depth_and_decay_skips_norms_biases_tokens():
    register_all_modules()
    model = BasePretrainer(backbone=dict(
        type='VisionTransformer', pos_embed='learned', img_size=16,
        patch_size=4,
        arch=dict(embed_dims=8, num_layers=3, num_heads=2, mlp_ratio=2.0)))
    wrapper = build_optim_wrapper(model, dict(
        constructor='LayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.5)))
    groups = {id(g['params'][0]): g for g in wrapper.optimizer.param_groups}
    params = dict(model.named_parameters())

    def group(name):
        return groups[id(params[name])]

    # L = 3: embeddings at depth 0 -> 0.5**4, block i -> 0.5**(3 - i).
    assert group('backbone.patch_embed.weight')['lr'] == pytest.approx(1 / 16)
    assert group('backbone.blocks.0.attn.qkv.weight')['lr'] == pytest.approx(1 / 8)
    assert group('backbone.blocks.2.mlp.0.weight')['lr'] == pytest.approx(1 / 2)
    assert group('backbone.norm.weight')['lr'] == pytest.approx(1.0)
    assert group('backbone.blocks.1.attn.qkv.weight')['weight_decay'] == 0.05
    for name in ('backbone.blocks.1.attn.qkv.bias', 'backbone.norm.weight',
                 'backbone.cls_token', 'backbone.pos_embed'):
        assert group(name)['weight_decay'] == 0.0, name
