"""Photometric augmentations of contrastive learning (SimCLR, MoCo v2, BYOL)
on HWC uint8 RGB arrays.

The pixel operations are torchvision's v2 functional ops on a CHW uint8
view; random decisions come from numpy's global RNG, which mmengine seeds
per dataloader worker, and every call draws the same count of numbers
whatever the outcome, so one transform's probability never shifts the
random stream of the next.
"""
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torchvision.transforms.v2.functional as TF
from mmcv.transforms import BaseTransform

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError
from .image_ops import _chw, _hwc


def _check_prob(prob: float, name: str) -> float:
    if not 0.0 <= prob <= 1.0:
        raise ConfigError(f'{name} prob must be in [0, 1], got {prob}')
    return float(prob)


def _factor_range(value: float, name: str) -> Tuple[float, float]:
    """torchvision's jitter range for a strength: [max(0, 1 - v), 1 + v]."""
    if value < 0:
        raise ConfigError(f'ColorJitter {name} must be >= 0, got {value}')
    return max(0.0, 1.0 - value), 1.0 + value


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """With probability ``prob``, jitter brightness, contrast, saturation and
    hue by random factors, in a random order (torchvision's ColorJitter
    inside RandomApply, as in MoCo v2: 0.4, 0.4, 0.4, 0.1, p 0.8).

    Args:
        brightness: Factor drawn from [max(0, 1 - b), 1 + b].
        contrast: Factor drawn from [max(0, 1 - c), 1 + c].
        saturation: Factor drawn from [max(0, 1 - s), 1 + s].
        hue: Shift drawn from [-h, h], h in [0, 0.5].
        prob: Probability of jittering at all.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.4, hue: float = 0.1,
                 prob: float = 0.8) -> None:
        if not 0.0 <= hue <= 0.5:
            raise ConfigError(
                f'ColorJitter hue must be in [0, 0.5], got {hue}')
        self.brightness = _factor_range(brightness, 'brightness')
        self.contrast = _factor_range(contrast, 'contrast')
        self.saturation = _factor_range(saturation, 'saturation')
        self.hue = (-hue, hue)
        self.prob = _check_prob(prob, 'ColorJitter')
        self._ops = (TF.adjust_brightness, TF.adjust_contrast,
                     TF.adjust_saturation, TF.adjust_hue)

    def get_params(self) -> Tuple[bool, np.ndarray, Tuple[float, ...]]:
        """Whether to jitter, the order of the four ops and their factors
        (brightness, contrast, saturation, hue shift)."""
        apply = bool(np.random.rand() < self.prob)
        order = np.random.permutation(4)
        factors = tuple(
            float(np.random.uniform(*bounds))
            for bounds in (self.brightness, self.contrast, self.saturation,
                           self.hue))
        return apply, order, factors

    def transform(self, results: dict) -> dict:
        """Maybe jitter ``results['img']`` (HWC uint8)."""
        apply, order, factors = self.get_params()
        if apply:
            img = _chw(results['img'])
            for i in order:
                img = self._ops[i](img, factors[i])
            results['img'] = _hwc(img)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue}, prob={self.prob})')


@TRANSFORMS.register_module()
class RandomGrayscale(BaseTransform):
    """With probability ``prob``, replace the image by its luma (ITU-R 601),
    repeated over the three channels.

    Args:
        prob: Probability of converting (0.2 in MoCo v2).
    """

    def __init__(self, prob: float = 0.2) -> None:
        self.prob = _check_prob(prob, 'RandomGrayscale')

    def transform(self, results: dict) -> dict:
        """Maybe convert ``results['img']`` (HWC uint8)."""
        if np.random.rand() < self.prob:
            gray = TF.rgb_to_grayscale(_chw(results['img']),
                                       num_output_channels=3)
            results['img'] = _hwc(gray)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class GaussianBlur(BaseTransform):
    """With probability ``prob``, blur with a Gaussian of random sigma.

    MoCo v2 blurs with PIL's radius-sigma Gaussian, sigma in [0.1, 2.0],
    p 0.5. Here the kernel spans +-3 sigma (``2 ceil(3 sigma) + 1`` taps,
    at most the image side) unless ``kernel_size`` fixes it.

    Args:
        sigma: (low, high) range of the standard deviation in pixels.
        prob: Probability of blurring.
        kernel_size: Odd kernel side; None derives it from sigma.
    """

    def __init__(self, sigma: Sequence[float] = (0.1, 2.0),
                 prob: float = 0.5,
                 kernel_size: Optional[int] = None) -> None:
        low, high = (float(s) for s in sigma)
        if not 0 < low <= high:
            raise ConfigError('GaussianBlur sigma must be (low, high) with '
                              f'0 < low <= high, got {tuple(sigma)!r}')
        if kernel_size is not None and (kernel_size < 1
                                        or kernel_size % 2 == 0):
            raise ConfigError('GaussianBlur kernel_size must be a positive '
                              f'odd int or None, got {kernel_size}')
        self.sigma = (low, high)
        self.prob = _check_prob(prob, 'GaussianBlur')
        self.kernel_size = kernel_size

    def transform(self, results: dict) -> dict:
        """Maybe blur ``results['img']`` (HWC uint8)."""
        apply = np.random.rand() < self.prob
        sigma = float(np.random.uniform(*self.sigma))
        if apply:
            img = results['img']
            size = self.kernel_size or 2 * math.ceil(3 * sigma) + 1
            # Reflection padding needs half the kernel below the image side.
            limit = 2 * min(img.shape[:2]) - 1
            size = min(size, limit if limit % 2 else limit - 1)
            blurred = TF.gaussian_blur(_chw(img), [size, size],
                                       [sigma, sigma])
            results['img'] = _hwc(blurred)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma={self.sigma}, '
                f'prob={self.prob}, kernel_size={self.kernel_size})')


@TRANSFORMS.register_module()
class Solarize(BaseTransform):
    """With probability ``prob``, invert every pixel value >= ``threshold``
    (BYOL uses p 0.2 on its second view, threshold 128).

    Args:
        threshold: On the 0-255 scale.
        prob: Probability of solarizing.
    """

    def __init__(self, threshold: int = 128, prob: float = 0.2) -> None:
        if not 0 <= threshold <= 255:
            raise ConfigError(
                f'Solarize threshold must be in [0, 255], got {threshold}')
        self.threshold = threshold
        self.prob = _check_prob(prob, 'Solarize')

    def transform(self, results: dict) -> dict:
        """Maybe solarize ``results['img']`` (HWC uint8)."""
        if np.random.rand() < self.prob:
            out = TF.solarize(_chw(results['img']), self.threshold)
            results['img'] = _hwc(out)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'prob={self.prob})')
