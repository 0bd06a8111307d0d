"""Build a model from a config and load a checkpoint, for users' scripts."""
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from pixpretrain.registry import MODELS
from pixpretrain.utils.setup_env import register_all_modules


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """The config's model, weights from ``checkpoint``, in eval mode.

    Args:
        config: Config file path or object.
        checkpoint: Checkpoint path; loaded strictly through the
            allow-listed loader. ``None`` keeps the random initialisation.
        device: Where to put the model.
    """
    register_all_modules()
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()
