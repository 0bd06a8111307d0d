"""MAE's loss: mean squared error on the pixels of removed patches."""
import torch
from mmengine.model import BaseModule

from pixpretrain.registry import MODELS
from ..utils import patchify


@MODELS.register_module()
class MAEHead(BaseModule):
    """Builds the pixel target of each patch and scores the prediction.

    Args:
        patch_size: Patch side p (the encoder's).
        norm_pix: Normalise each target patch by its own mean and variance
            (the paper's better-performing "norm pix" target).
        eps: Added to the per-patch variance (1e-6, as the paper's code).
    """

    def __init__(self, patch_size: int = 16, norm_pix: bool = True,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.norm_pix = norm_pix
        self.eps = eps

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, p * p * C) per-patch regression target."""
        target = patchify(images, self.patch_size)
        if self.norm_pix:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased, as the paper
            target = (target - mean) / (var + self.eps)**0.5
        return target

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
        """Mean over removed patches of the per-patch mean squared error.

        Args:
            pred: (B, L, p * p * C) decoder output.
            images: (B, C, H, W) the normalised input images.
            mask: (B, L), 1 where a patch was removed.
        """
        per_patch = (pred.float() - self.target(images.float())).pow(2).mean(-1)
        return (per_patch * mask).sum() / mask.sum()
