import pytest
import torch

from pixpretrain.models import (BasePretrainer, MAEHead,
                                PixelDataPreprocessor, VisionTransformer)

ARCH = dict(embed_dims=16, num_layers=3, num_heads=2, mlp_ratio=2.0)
BACKBONE = dict(type='VisionTransformer', arch=ARCH, img_size=16,
                patch_size=4)


def test_parts_from_configs_or_modules_and_several_heads():
    from_cfg = BasePretrainer(
        backbone=BACKBONE,
        head=dict(gen=dict(type='MAEHead', patch_size=4),
                  aux=dict(type='MAEHead', patch_size=4, norm_pix=False)))
    assert isinstance(from_cfg.backbone, VisionTransformer)
    assert dict(from_cfg.named_heads()).keys() == {'gen', 'aux'}

    module = VisionTransformer(arch=ARCH, img_size=16, patch_size=4)
    from_list = BasePretrainer(backbone=module, head=[
        MAEHead(patch_size=4), dict(type='MAEHead', patch_size=4)])
    assert from_list.backbone is module
    assert [name for name, _ in from_list.named_heads()] == ['head0', 'head1']

    single = BasePretrainer(backbone=BACKBONE, head=dict(type='MAEHead'))
    assert [name for name, _ in single.named_heads()] == ['head']


def test_extract_feat_returns_requested_layers():
    model = BasePretrainer(backbone=BACKBONE).eval()
    images = torch.randn(2, 3, 16, 16)
    default = model(images)  # mode='tensor'
    assert len(default) == 1 and default[0].shape == (2, 17, 16)
    layers = model.extract_feat(images, layers=[0, 2])
    assert torch.allclose(layers[1], default[0])
    assert not torch.allclose(layers[0], layers[1])


def test_unknown_mode_is_rejected():
    model = BasePretrainer(backbone=BACKBONE)
    with pytest.raises(ValueError, match="mode must be"):
        model(torch.randn(1, 3, 16, 16), mode='train')


def test_preprocessor_normalises_uint8_on_the_device():
    pre = PixelDataPreprocessor(mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 5.0))
    batch = torch.full((2, 3, 4, 4), 40, dtype=torch.uint8)
    out = pre(dict(inputs=batch, data_samples=None))['inputs']
    assert out.dtype == torch.float32
    assert out[0, :, 0, 0].tolist() == [15.0, 5.0, 2.0]
    views = pre(dict(inputs=[batch, batch]))['inputs']
    assert len(views) == 2 and torch.equal(views[1], out)
    assert torch.equal(pre.denormalize(out), batch)
