"""Pictures of what MAE reconstructs: original | masked | prediction."""
import os
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from PIL import Image

from pixpretrain.registry import HOOKS
from pixpretrain.models.utils import patchify, unpatchify


@torch.no_grad()
def mae_reconstruction_grid(model: torch.nn.Module, images: torch.Tensor,
                            seed: int = 0) -> np.ndarray:
    """Rows of original | masked | reconstruction | reconstruction + visible.

    Args:
        model: An MAE-style model with ``reconstruct``, ``backbone`` (patch
            size, grid), ``head.target`` and a ``data_preprocessor`` that can
            ``denormalize``.
        images: (B, C, H, W) uint8 images.
        seed: Seed of the masking noise, so pictures of successive
            checkpoints mask the same patches.

    Returns:
        (B * H, 4 * W, C) uint8 picture.
    """
    preprocessor = model.data_preprocessor
    device = next(model.parameters()).device
    inputs = preprocessor.normalize(images.to(device))
    p, grid = model.backbone.patch_size, model.backbone.grid
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(images.shape[0], grid[0] * grid[1],
                       generator=generator).to(device)
    was_training = model.training
    model.eval()
    pred, mask = model.reconstruct(inputs, noise=noise)
    model.train(was_training)

    # Undo the head's per-patch normalisation with the true patch statistics.
    target_patches = patchify(inputs, p)
    if getattr(model.head, 'norm_pix', False):
        mean = target_patches.mean(-1, keepdim=True)
        std = (target_patches.var(-1, keepdim=True) + model.head.eps)**0.5
        pred = pred * std + mean
    mask_px = mask[..., None]  # (B, L, 1)
    masked = target_patches * (1 - mask_px)  # removed patches -> mean grey
    pasted = target_patches * (1 - mask_px) + pred * mask_px
    channels = images.shape[1]
    columns = [
        images.to(device),
        preprocessor.denormalize(unpatchify(masked, p, grid, channels)),
        preprocessor.denormalize(unpatchify(pred, p, grid, channels)),
        preprocessor.denormalize(unpatchify(pasted, p, grid, channels)),
    ]
    rows = torch.cat(columns, dim=3)  # (B, C, H, 4W)
    picture = torch.cat(list(rows), dim=1)  # (C, B*H, 4W)
    return picture.permute(1, 2, 0).cpu().numpy()


@HOOKS.register_module()
class ReconstructionHook(Hook):
    """Saves MAE reconstructions of fixed training images as PNG.

    Written to ``{work_dir}/reconstructions/iter_{N}.png`` every ``interval``
    iterations (0: only when training ends) and sent to the visualizer's
    backends (TensorBoard, when configured).

    Args:
        interval: Iterations between pictures; 0 for the end of training only.
        num_images: Images in the picture (the data set's first ones).
        scale: Nearest-neighbour upscaling, so 32 px images are visible.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 0, num_images: int = 8,
                 scale: int = 4) -> None:
        self.interval = interval
        self.num_images = num_images
        self.scale = scale
        self.last_path: Optional[str] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._save(runner)

    def after_train(self, runner) -> None:
        self._save(runner)

    @master_only
    def _save(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        dataset = runner.train_dataloader.dataset
        count = min(self.num_images, len(dataset))
        batch = default_collate([dataset[i] for i in range(count)])
        grid = mae_reconstruction_grid(model, batch['inputs'])
        image = Image.fromarray(grid)
        if self.scale > 1:
            image = image.resize(
                (image.width * self.scale, image.height * self.scale),
                Image.NEAREST)
        path = osp.join(runner.work_dir, 'reconstructions',
                        f'iter_{runner.iter}.png')
        runner.visualizer.add_image('reconstruction', np.asarray(image),
                                    step=runner.iter)
        os.makedirs(osp.dirname(path), exist_ok=True)
        image.save(path)
        self.last_path = path
        runner.logger.info(
            'reconstruction picture (original | masked | prediction | '
            f'prediction + visible): {path}')
