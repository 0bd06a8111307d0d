"""Build a model from a config, load a checkpoint, and extract features,
for users' scripts."""
import argparse
import os
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from pixpretrain.models.utils import (PixelDataPreprocessor, check_pool,
                                      num_prefix_tokens, pool_feature)
from pixpretrain.models.utils.input_checks import check_batch_tensor
from pixpretrain.registry import MODELS, register_all_modules
from pixpretrain.utils.errors import ConfigError
from pixpretrain.utils.pretrained import load_pretrained


def init_model(config: Union[str, os.PathLike, Config],
               checkpoint: Optional[Union[str, os.PathLike]] = None,
               device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """The config's model, weights from ``checkpoint``, in eval mode.

    Args:
        config: Config file path or object.
        checkpoint: Checkpoint path, or a URL mmengine's loader knows;
            loaded strictly through the allow-listed loader. ``None`` keeps
            the random initialisation.
        device: Where to put the model.

    Raises:
        CheckpointError: The checkpoint's weights do not fit the config's
            model; the one-line message names the keys.
    """
    from .cli_types import device as check_device
    from .config_checks import load_config
    register_all_modules()
    if isinstance(config, (str, os.PathLike)):
        cfg = load_config(os.fspath(config))
    elif isinstance(config, Config):
        cfg = config
    else:
        raise ConfigError(f'init_model takes a config path or an mmengine '
                          f'Config, got {type(config).__name__}')
    if not isinstance(cfg.get('model'), dict):
        raise ConfigError('the config has no model dict to build')
    try:
        check_device(str(device))
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f'device={device!r}: {error}') from None
    model = MODELS.build(cfg.model)
    checkpoint = None if checkpoint is None else os.fspath(checkpoint)
    if checkpoint is not None and '://' in checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    elif checkpoint is not None:
        load_pretrained(model, checkpoint, prefix='')
    return model.to(device).eval()


def check_pixels(images: object, who: str) -> None:
    """Refuse what is not a batch of pipeline pixels: (B, C, H, W) on the
    0-255 scale, uint8 or float. A float batch whose values all lie in
    [0, 1] and are not whole (torchvision's ``ToTensor`` scale) would be
    normalised as near-black images, silently: it is refused too.

    Args:
        images: What ``who`` was given.
        who: The function, for the message.

    Raises:
        ConfigError: Naming what was given and the fix.
    """
    check_batch_tensor(images, who, 'torch tensor of 0-255 pixels',
                       'e.g. torch.from_numpy(array).permute(0, 3, 1, 2) '
                       'for (B, H, W, C) arrays')
    if images.shape[1] not in (1, 3) and images.shape[-1] in (1, 3, 4):
        raise ConfigError(f'{who} takes channels first, (B, C, H, W); got '
                          f'{tuple(images.shape)}: images.permute(0, 3, 1, '
                          '2)')
    check_pixel_scale(images, who)


def check_pixel_scale(images: torch.Tensor, who: str) -> None:
    """Refuse a float batch of 0-1 values (see :func:`check_pixels`)."""
    if not images.is_floating_point() or not images.numel():
        return
    low, high = torch.aminmax(images)  # one pass, then the rounding test
    if 0 <= float(low) and 0 < float(high) <= 1 and \
            bool((images != images.round()).any()):
        raise ConfigError(f'{who} takes pixels on the 0-255 scale; these '
                          'are 0-1 floats (torchvision ToTensor): multiply '
                          'by 255, or pass the uint8 pixels')


@torch.no_grad()
def extract_features(model: torch.nn.Module, images: torch.Tensor,
                     layers: Sequence[int],
                     pool: str = 'avg') -> List[torch.Tensor]:
    """One pooled feature per image for each requested layer.

    Works for any model with a data preprocessor and
    ``extract_feat(inputs, layers=...)`` (every :class:`BasePretrainer`)
    whose backbone offers ``forward_intermediates``. Transformer layers
    give tokens, pooled by ``pool``; convolutional stages give maps,
    average-pooled.

    Args:
        model: E.g. from :func:`init_model`.
        images: (B, C, H, W) pixels on the 0-255 scale (uint8 as the
            pipeline's ``PackInputs`` gives them, or float), at the model's
            input size.
        layers: Block / stage indices (negative counts from the end).
        pool: 'avg' (mean of the patch tokens) or 'cls' (the cls token).

    Returns:
        One float (B, D_l) tensor per entry of ``layers``, in that order,
        on the model's device.
    """
    check_pool(pool)
    if isinstance(layers, (str, bytes)) or not isinstance(
            layers, Sequence) or not layers or not all(
                isinstance(i, int) and not isinstance(i, bool)
                for i in layers):
        raise ConfigError(f'layers = {layers!r}: give a non-empty list of '
                          'block indices, e.g. [-1] or [3, 6, 11]')
    if isinstance(model.data_preprocessor, PixelDataPreprocessor):
        check_pixels(images, 'extract_features')  # not iGPT's token grids
    was_training = model.training
    model.eval()
    try:
        inputs = model.data_preprocessor(dict(inputs=images),
                                         training=False)['inputs']
        outputs = model.extract_feat(inputs, layers=list(layers))
    finally:
        model.train(was_training)
    prefix = num_prefix_tokens(model.backbone)
    return [pool_feature(out, pool, prefix).float() for out in outputs]
