"""MAE's masking and loss against hand-written references."""
import numpy as np
import pytest
import torch

from pixpretrain.models import MAE, MAEDecoder, MAEHead, VisionTransformer
from pixpretrain.models.utils import patchify, random_masking, unpatchify
from pixpretrain.utils.errors import ConfigError

PATCH, SIZE = 4, 16  # 4 x 4 = 16 patches


def tiny_mae(mask_ratio=0.75, norm_pix=True) -> MAE:
    torch.manual_seed(0)
    backbone = VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.0),
        img_size=SIZE, patch_size=PATCH)
    neck = MAEDecoder(num_patches=16, patch_size=PATCH, encoder_dims=32,
                      decoder_dims=16, decoder_depth=1, decoder_num_heads=2)
    head = MAEHead(patch_size=PATCH, norm_pix=norm_pix)
    return MAE(backbone=backbone, neck=neck, head=head,
               mask_ratio=mask_ratio).eval()


def reference_loss(pred, images, mask, norm_pix):
    """Loop over images and patches; numpy only."""
    pred, images, mask = pred.numpy(), images.numpy(), mask.numpy()
    B, C, H, W = images.shape
    grid_w = W // PATCH
    total, count = 0.0, 0
    for b in range(B):
        for index in range(mask.shape[1]):
            if mask[b, index] == 0:
                continue
            row, col = divmod(index, grid_w)
            patch = images[b, :, row * PATCH:(row + 1) * PATCH,
                           col * PATCH:(col + 1) * PATCH]
            target = patch.transpose(1, 2, 0).reshape(-1)  # (p, p, C) order
            if norm_pix:
                target = (target - target.mean()) / np.sqrt(
                    target.var(ddof=1) + 1e-6)
            total += np.mean((pred[b, index] - target)**2)
            count += 1
    return total / count


@pytest.mark.parametrize('norm_pix', [True, False])
def test_loss_matches_hand_written_reference(norm_pix):
    model = tiny_mae(norm_pix=norm_pix)
    images = torch.randn(3, 3, SIZE, SIZE)
    noise = torch.rand(3, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pred, mask = model.reconstruct(images, noise=noise)
        loss = model.head.loss(pred, images, mask)
    expected = reference_loss(pred, images, mask, norm_pix)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_loss_mode_uses_the_same_masking_as_reconstruct():
    model = tiny_mae()
    images = torch.randn(2, 3, SIZE, SIZE)
    torch.manual_seed(5)
    loss = model(images, mode='loss')['loss']
    torch.manual_seed(5)
    noise = torch.rand(2, 16)
    pred, mask = model.reconstruct(images, noise=noise)
    assert loss.item() == pytest.approx(
        reference_loss(pred.detach(), images, mask, True), rel=1e-5)


@pytest.mark.parametrize('ratio,length', [(0.75, 16), (0.5, 49), (0.9, 196),
                                          (0.6, 10)])
def test_exact_number_of_visible_patches_per_image(ratio, length):
    tokens = torch.randn(5, length, 8)
    visible, mask, _ = random_masking(tokens, ratio)
    keep = round(length * (1 - ratio))
    assert visible.shape == (5, keep, 8)
    assert (mask.sum(1) == length - keep).all()


def test_masks_are_chosen_per_image_by_noise_order():
    tokens = torch.arange(2 * 8, dtype=torch.float).view(2, 8, 1)
    noise = torch.tensor([[0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4],
                          [0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6]])
    visible, mask, ids_restore = random_masking(tokens, 0.5, noise)
    # Smallest noise stays: image 0 keeps 1, 3, 5, 7; image 1 keeps 0, 2, 4, 6.
    assert mask[0].tolist() == [1, 0, 1, 0, 1, 0, 1, 0]
    assert mask[1].tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert sorted(visible[0, :, 0].tolist()) == [1, 3, 5, 7]
    assert sorted(visible[1, :, 0].tolist()) == [8, 10, 12, 14]
    # ids_restore undoes the shuffle: kept tokens return to their places.
    padded = torch.cat([visible, torch.full((2, 4, 1), -1.0)], dim=1)
    restored = torch.gather(padded, 1, ids_restore[..., None])
    kept = mask == 0
    assert torch.equal(restored[kept], tokens[kept])


def test_random_masks_differ_between_images():
    _, mask, _ = random_masking(torch.zeros(64, 196, 1), 0.75)
    assert len({tuple(m.tolist()) for m in mask}) == 64


def test_patchify_layout_and_inverse():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float).view(2, 3, 8, 8)
    patches = patchify(images, 4)
    assert patches.shape == (2, 4, 48)
    # Patch 1 is row 0, column 1; its first entry is pixel (0, 4), channel 0,
    # its second is channel 1 of the same pixel (channels last).
    assert patches[0, 1, 0] == images[0, 0, 0, 4]
    assert patches[0, 1, 1] == images[0, 1, 0, 4]
    assert torch.equal(unpatchify(patches, 4, (2, 2)), images)


@pytest.mark.parametrize('ratio', [0.0, 1.0, -0.1, 1.5])
def test_mask_ratio_outside_open_interval_is_rejected(ratio):
    with pytest.raises(ConfigError, match='mask_ratio'):
        tiny_mae(mask_ratio=ratio)


def test_decoder_width_must_match_backbone():
    backbone = VisionTransformer(arch='t', img_size=32, patch_size=4)
    neck = MAEDecoder(num_patches=64, patch_size=4, encoder_dims=384,
                      decoder_dims=64, decoder_depth=1, decoder_num_heads=2)
    with pytest.raises(ConfigError, match=r'neck.encoder_dims = 384: .* \(allowed: 192\)'):
        MAE(backbone=backbone, neck=neck, head=MAEHead(patch_size=4))


def test_paper_initialisation():
    model = tiny_mae()
    assert model.backbone.cls_token.std().item() == pytest.approx(0.02, abs=0.01)
    lin = model.backbone.blocks[0].mlp[0]
    bound = (6 / (lin.in_features + lin.out_features))**0.5  # xavier uniform
    assert lin.weight.abs().max() <= bound and lin.weight.abs().max() > 0.9 * bound
    assert torch.all(lin.bias == 0)
    norm = model.backbone.norm
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
