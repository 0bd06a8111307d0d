"""Saves the pictures a model draws of fixed training images (its
``pictures()``, see :mod:`pixpretrain.models.utils.pictures`)."""
import os
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.dist import master_only
from mmengine.hooks import Hook
from PIL import Image
from torch.distributed.fsdp import FSDPModule

from pixpretrain.models.utils import unwrap_model
from pixpretrain.models.utils.pictures import model_pictures
from pixpretrain.registry import HOOKS
from pixpretrain.utils.errors import ConfigError


def _can_draw(model: torch.nn.Module) -> bool:
    return callable(getattr(model, 'pictures', None))


@HOOKS.register_module()
class ReconstructionHook(Hook):
    """Saves pictures of what the model predicts for fixed training images.

    The model draws them with its ``pictures(images)`` method (see
    :func:`~pixpretrain.models.utils.pictures.model_pictures`): MAE gives
    original | masked | prediction | prediction + visible rows
    (``'reconstructions'``), iGPT its completions. Each picture goes to
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
        self._sharded = False

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        if not _can_draw(model):
            raise ConfigError(
                f'ReconstructionHook needs a model with a pictures(images) '
                f'method (MAE and iGPT have one); {type(model).__name__} '
                'has none. Remove the hook from custom_hooks.')
        # Drawing runs the model outside its forward on rank 0 alone; a
        # sharded model would wait there for the other ranks' shards.
        self._sharded = isinstance(model, FSDPModule)
        if self._sharded:
            runner.logger.warning(
                'ReconstructionHook draws nothing in a sharded (FSDP2) run: '
                'its pictures need the whole model in one process; draw '
                "them from a checkpoint with the model's pictures() method")

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
        if self._sharded:
            return
        model = unwrap_model(runner.model)
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
