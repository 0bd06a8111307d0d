"""Build a model from a config, load a checkpoint, and extract features,
for users' scripts."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from pixpretrain.models.utils import (check_pool, num_prefix_tokens,
                                      pool_feature)
from pixpretrain.registry import MODELS, register_all_modules
from pixpretrain.utils.pretrained import load_pretrained


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
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
    register_all_modules()
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    model = MODELS.build(cfg.model)
    if checkpoint is not None and '://' in checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    elif checkpoint is not None:
        load_pretrained(model, checkpoint, prefix='')
    return model.to(device).eval()


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
