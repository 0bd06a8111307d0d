"""Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) on a batch.

Each image is mixed with its mirror in the batch (``images.flip(0)``, as
timm does), and the soft labels follow with the same weight: the image
weight ``lam`` for mixup, the uncovered area for CutMix.
"""
import math
from typing import Optional, Tuple

import torch

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError

Box = Tuple[int, int, int, int]  # top, bottom, left, right (exclusive)


def mixup(images: torch.Tensor, targets: torch.Tensor,
          lam: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """``lam * x + (1 - lam) * x.flip(0)`` for the images and the targets.

    Args:
        images: (B, C, H, W).
        targets: (B, num_classes) label distributions.
        lam: Weight of each sample's own image and label.
    """
    return (images * lam + images.flip(0) * (1.0 - lam),
            targets * lam + targets.flip(0) * (1.0 - lam))


def cutmix_box(height: int, width: int, lam: float,
               generator: Optional[torch.Generator] = None) -> Box:
    """A box of about ``(1 - lam)`` of the image, centred uniformly, clipped
    at the borders (so its area may be smaller)."""
    cut = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut), int(width * cut)
    cy = int(torch.randint(height, (1, ), generator=generator))
    cx = int(torch.randint(width, (1, ), generator=generator))
    return (max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height),
            max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width))


def cutmix(images: torch.Tensor, targets: torch.Tensor,
           box: Box) -> Tuple[torch.Tensor, torch.Tensor]:
    """Paste ``box`` of each mirror image; labels weighted by area.

    Args:
        images: (B, C, H, W).
        targets: (B, num_classes) label distributions.
        box: (top, bottom, left, right) in pixels, bottom/right exclusive.
    """
    top, bottom, left, right = box
    mixed = images.clone()
    mixed[:, :, top:bottom, left:right] = images.flip(0)[:, :, top:bottom,
                                                         left:right]
    lam = 1.0 - (bottom - top) * (right - left) / (images.shape[2] *
                                                    images.shape[3])
    return mixed, targets * lam + targets.flip(0) * (1.0 - lam)


@MODELS.register_module()
class MixupCutmix:
    """Per batch: CutMix with probability ``switch_prob``, else mixup.

    With one of the two alphas at 0 only the other is used. ``lam`` is drawn
    from Beta(alpha, alpha) with torch's RNG (seeded by mmengine).

    Args:
        mixup_alpha: Beta parameter of mixup; 0 disables it.
        cutmix_alpha: Beta parameter of CutMix; 0 disables it.
        switch_prob: Chance of CutMix when both are enabled.
        prob: Chance that a batch is mixed at all.
    """

    def __init__(self, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
                 switch_prob: float = 0.5, prob: float = 1.0) -> None:
        for key, value in (('mixup_alpha', mixup_alpha),
                           ('cutmix_alpha', cutmix_alpha)):
            if value < 0:
                raise ConfigError(f'{key} must be >= 0, got {value}')
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ConfigError('mixup_alpha and cutmix_alpha are both 0; '
                              'drop batch_augments instead')
        for key, value in (('switch_prob', switch_prob), ('prob', prob)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f'{key} must lie in [0, 1], got {value}')
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.switch_prob = switch_prob
        self.prob = prob

    def _beta(self, alpha: float) -> float:
        return float(torch.distributions.Beta(alpha, alpha).sample())

    def __call__(self, images: torch.Tensor, targets: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) images, (B, num_classes) targets -> mixed pair."""
        if float(torch.rand(())) >= self.prob:
            return images, targets
        use_cutmix = self.mixup_alpha == 0 or (
            self.cutmix_alpha > 0 and float(torch.rand(())) < self.switch_prob)
        if use_cutmix:
            lam = self._beta(self.cutmix_alpha)
            box = cutmix_box(images.shape[2], images.shape[3], lam)
            return cutmix(images, targets, box)
        return mixup(images, targets, self._beta(self.mixup_alpha))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mixup_alpha={self.mixup_alpha}, '
                f'cutmix_alpha={self.cutmix_alpha}, '
                f'switch_prob={self.switch_prob}, prob={self.prob})')
