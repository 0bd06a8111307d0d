import torch

from pixpretrain.engine import mae_reconstruction_grid
from pixpretrain.models import MAE, MAEDecoder, MAEHead, VisionTransformer


def test_grid_layout_and_visible_patches_are_pasted_back():
    torch.manual_seed(0)
    model = MAE(
        backbone=VisionTransformer(
            arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                      mlp_ratio=2.0), img_size=16, patch_size=4),
        neck=MAEDecoder(num_patches=16, patch_size=4, encoder_dims=16,
                        decoder_dims=8, decoder_depth=1,
                        decoder_num_heads=2),
        head=MAEHead(patch_size=4))
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    grid = mae_reconstruction_grid(model, images)
    assert grid.shape == (3 * 16, 4 * 16, 3) and grid.dtype.name == 'uint8'
    original = images.permute(0, 2, 3, 1).reshape(48, 16, 3).numpy()
    assert (grid[:, :16] == original).all()
    # Last column: visible patches are the original pixels (within rounding);
    # masked ones come from the decoder, so most of them differ.
    pasted, masked = grid[:, 48:].astype(int), grid[:, 16:32]
    mean_colour = [124, 116, 104]  # normalised 0 = ImageNet mean, rounded
    visible = (masked != mean_colour).any(-1)
    diff = abs(pasted - original.astype(int))
    assert diff[visible].max() <= 1
    assert diff[~visible].mean() > 5
