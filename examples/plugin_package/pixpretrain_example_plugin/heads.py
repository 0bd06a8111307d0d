"""A pretext head: MAE's pixel regression with a Huber loss."""
import torch
import torch.nn.functional as F

from pixpretrain.models import MAEHead
from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError


@MODELS.register_module()
class HuberMAEHead(MAEHead):
    """MAE's head scored with the Huber loss instead of the squared error.

    Quadratic for residuals below ``delta``, linear above, so the few patches
    the decoder cannot predict (text, fine texture) weigh less.

    Args:
        delta: Residual where the loss turns linear, in units of the target
            (per-patch standard deviations with ``norm_pix``); > 0.
        **kwargs: ``patch_size``, ``norm_pix``, ``eps`` of
            :class:`pixpretrain.models.MAEHead`.
    """

    def __init__(self, delta: float = 1.0, **kwargs) -> None:
        if not delta > 0:
            raise ConfigError(f'HuberMAEHead delta must be > 0, got {delta}')
        super().__init__(**kwargs)
        self.delta = delta

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
        """Mean over removed patches of the per-patch mean Huber loss.

        Args:
            pred: (B, L, p * p * C) decoder output.
            images: (B, C, H, W) normalised images.
            mask: (B, L), 1 where a patch was removed.
        """
        per_patch = F.huber_loss(pred.float(), self.target(images.float()),
                                 reduction='none', delta=self.delta).mean(-1)
        return (per_patch * mask).sum() / mask.sum()
