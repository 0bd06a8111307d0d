"""Pictures of what a pretrainer predicts: MAE's reconstructions
(original | masked | prediction) or any model's own ``pictures()``."""
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from PIL import Image

from pixpretrain.models.utils import patchify, unpatchify
from pixpretrain.registry import HOOKS
from pixpretrain.utils.errors import ConfigError


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


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if is_model_wrapper(model) else model


def model_pictures(model: torch.nn.Module,
                   images: torch.Tensor) -> Dict[str, np.ndarray]:
    """Named pictures a model draws of ``images``.

    A model that defines ``pictures(images) -> {name: (H, W, C) uint8}``
    draws its own (e.g. iGPT's completions), called in eval mode without
    gradients; a model with MAE's ``reconstruct`` gets
    :func:`mae_reconstruction_grid` as ``'reconstructions'``.

    Args:
        model: The (unwrapped) model.
        images: (B, C, H, W) uint8 images on the CPU; ``pictures`` moves
            them to where it computes.
    """
    draw = getattr(model, 'pictures', None)
    if callable(draw):
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                pictures = draw(images)
        finally:
            model.train(was_training)
        for name, picture in pictures.items():
            if not (isinstance(picture, np.ndarray)
                    and picture.dtype == np.uint8 and picture.ndim == 3):
                raise TypeError(
                    f'{type(model).__name__}.pictures() must return HWC '
                    f"uint8 arrays; '{name}' is {type(picture).__name__} "
                    f'{getattr(picture, "dtype", "")} '
                    f'{getattr(picture, "shape", "")}')
        return pictures
    return {'reconstructions': mae_reconstruction_grid(model, images)}


def _can_draw(model: torch.nn.Module) -> bool:
    return callable(getattr(model, 'pictures', None)) or callable(
        getattr(model, 'reconstruct', None))


@HOOKS.register_module()
class ReconstructionHook(Hook):
    """Saves pictures of what the model predicts for fixed training images.

    MAE models give original | masked | prediction | prediction + visible
    rows (:func:`mae_reconstruction_grid`); any model with a
    ``pictures(images)`` method gives its own named pictures instead, e.g.
    iGPT's completions (see :func:`model_pictures`). Each picture goes to
    ``{work_dir}/{name}/iter_{N}.png`` (``epoch_{N}.png`` with ``by_epoch``)
    and to the visualizer's backends under the tag ``name``, so TensorBoard
    shows it when ``TensorboardVisBackend`` is configured.

    Images and pictures are drawn with torch's and numpy's random states
    seeded and restored afterwards, so every picture of a run shows the same
    crops and masks, and training's random streams are left untouched.

    Args:
        interval: Pictures every ``interval`` iterations (epochs with
            ``by_epoch``); 0 for the end of training only. Training's end
            always gets one.
        by_epoch: Count ``interval`` in epochs rather than iterations.
        num_images: Images in the picture (the data set's first ones).
        scale: Nearest-neighbour upscaling, so 32 px images are visible.
        seed: Seed of the RNG while drawing.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 0, by_epoch: bool = False,
                 num_images: int = 8, scale: int = 4, seed: int = 0) -> None:
        for key, value, low in (('interval', interval, 0),
                                ('num_images', num_images, 1),
                                ('scale', scale, 1)):
            if not isinstance(value, int) or value < low:
                raise ConfigError(
                    f'ReconstructionHook {key} must be an int >= {low}, '
                    f'got {value!r}')
        self.interval = interval
        self.by_epoch = by_epoch
        self.num_images = num_images
        self.scale = scale
        self.seed = seed
        self.last_path: Optional[str] = None
        self._last_step: Optional[int] = None

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)
        if not _can_draw(model):
            raise ConfigError(
                f'ReconstructionHook needs a model with a pictures(images) '
                f'method or MAE\'s reconstruct(); {type(model).__name__} '
                'has neither. Remove the hook from custom_hooks.')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if (not self.by_epoch and self.interval
                and self.every_n_train_iters(runner, self.interval)):
            self._save(runner, f'iter_{runner.iter + 1}', runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if (self.by_epoch and self.interval
                and self.every_n_epochs(runner, self.interval)):
            self._save(runner, f'epoch_{runner.epoch + 1}', runner.iter)

    def after_train(self, runner) -> None:
        # runner.iter now counts the finished iterations, runner.epoch the
        # finished epochs.
        if self._last_step != runner.iter:
            label = (f'epoch_{runner.epoch}'
                     if self.by_epoch else f'iter_{runner.iter}')
            self._save(runner, label, runner.iter)

    @master_only
    def _save(self, runner, label: str, step: int) -> None:
        """Draw, write ``{work_dir}/{name}/{label}.png``, send to the
        visualizer at ``step`` (finished iterations, as the loss curves)."""
        model = _unwrap(runner.model)
        dataset = runner.train_dataloader.dataset
        count = min(self.num_images, len(dataset))
        devices = ([torch.cuda.current_device()]
                   if torch.cuda.is_available() else [])
        # Transforms draw from numpy, models from torch: seed both, so every
        # picture shows the same crops and masks, and restore both after.
        numpy_state = np.random.get_state()
        try:
            with torch.random.fork_rng(devices=devices):
                np.random.seed(self.seed)
                torch.manual_seed(self.seed)
                batch = default_collate([dataset[i] for i in range(count)])
                pictures = model_pictures(model, batch['inputs'])
        finally:
            np.random.set_state(numpy_state)
        for name, grid in pictures.items():
            if grid.shape[-1] == 1:  # grey: the backends expect RGB
                grid = np.repeat(grid, 3, axis=-1)
            image = Image.fromarray(grid)
            if self.scale > 1:
                image = image.resize(
                    (image.width * self.scale, image.height * self.scale),
                    Image.NEAREST)
            path = osp.join(runner.work_dir, name, f'{label}.png')
            runner.visualizer.add_image(name, np.asarray(image), step=step)
            os.makedirs(osp.dirname(path), exist_ok=True)
            image.save(path)
            self.last_path = path
            runner.logger.info(f'{name} picture: {path}')
        self._last_step = step
