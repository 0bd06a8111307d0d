"""Geometric augmentations on HWC uint8 RGB arrays.

Resampling is delegated to torchvision's v2 functional ops on a CHW view of
the array, so pixels match torchvision/timm pipelines (antialiased, uint8 in
and out). Random numbers come from numpy's global RNG, which mmengine seeds
per worker; a private unseeded generator would make runs irreproducible.
"""
import math
import numbers
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
import torchvision.transforms.v2.functional as TF
from mmcv.transforms import BaseTransform

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError

from .image_ops import (_check_range, _chw, _hwc, _interpolation, _pair_size,
                        _set_image, resized_crop)


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area and aspect ratio, then resize to ``size``.

    Follows torchvision's scale-based strategy: up to 10 attempts drawing an
    area fraction uniformly from ``scale`` and an aspect ratio (w / h)
    log-uniformly from ``ratio``; if none fits, a centre crop of the whole
    image clamped to the ratio range.

    Args:
        size (int | tuple[int, int]): Output ``(h, w)``, or an int for a
            square.
        scale (tuple[float, float]): Range of the crop's area as a fraction
            of the image's. Defaults to (0.08, 1.0).
        ratio (tuple[float, float]): Range of the crop's aspect ratio w / h.
            Defaults to (3/4, 4/3).
        interpolation (str): 'bilinear', 'bicubic' or 'nearest'. Defaults to
            'bilinear'.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bilinear') -> None:
        self.size = _pair_size(size, 'RandomResizedCrop')
        self.scale = _check_range(scale, 'RandomResizedCrop scale')
        self.ratio = _check_range(ratio, 'RandomResizedCrop ratio')
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation)

    def get_params(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """Draw a crop box for an image of the given size.

        Args:
            height (int): Image height.
            width (int): Image width.

        Returns:
            tuple[int, int, int, int]: ``(top, left, crop_h, crop_w)``.
        """
        area = height * width
        log_low, log_high = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target_area = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(log_low, log_high))
            crop_w = int(round(math.sqrt(target_area * aspect)))
            crop_h = int(round(math.sqrt(target_area / aspect)))
            if 0 < crop_w <= width and 0 < crop_h <= height:
                top = int(np.random.randint(0, height - crop_h + 1))
                left = int(np.random.randint(0, width - crop_w + 1))
                return top, left, crop_h, crop_w
        in_ratio = width / height
        # At least one pixel: a 1-pixel-wide image with a ratio range
        # above 2 (or below 1/2) would otherwise round to an empty box.
        if in_ratio < self.ratio[0]:
            crop_w, crop_h = width, max(1, int(round(width / self.ratio[0])))
        elif in_ratio > self.ratio[1]:
            crop_h, crop_w = height, max(1, int(round(height * self.ratio[1])))
        else:
            crop_h, crop_w = height, width
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def transform(self, results: dict) -> dict:
        """Crop and resize ``results['img']``.

        Args:
            results (dict): Must hold ``img``.

        Returns:
            dict: ``results`` with ``img`` and ``img_shape`` updated and the
            box in ``crop_bbox`` as ``(top, left, h, w)``.
        """
        img = results['img']
        box = self.get_params(*img.shape[:2])
        results['crop_bbox'] = box
        return _set_image(results,
                          resized_crop(img, box, self.size, self._mode))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation!r})')


def flip_image(img: np.ndarray, direction: str) -> np.ndarray:
    """A contiguous flipped copy of an (H, W[, C]) image.

    OpenCV's flip for uint8 images, whose copy is about 30x faster than
    numpy's of a reversed view (7 vs 220 us for 224 x 224 x 3), same pixels.

    Args:
        img: Image array, HWC or HW.
        direction: 'horizontal' (mirror the columns) or 'vertical'.
    """
    if img.dtype == np.uint8 and img.flags['C_CONTIGUOUS'] and (
            img.ndim == 2 or img.ndim == 3 and img.shape[2] <= 4):
        return cv2.flip(img, 1 if direction == 'horizontal' else 0)
    flipped = img[:, ::-1] if direction == 'horizontal' else img[::-1]
    return np.ascontiguousarray(flipped)


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip the image with probability ``prob``.

    Args:
        prob (float): Probability of flipping, in [0, 1]. Defaults to 0.5.
        direction (str): 'horizontal' (left-right) or 'vertical'. Defaults to
            'horizontal'.
    """

    def __init__(self, prob: float = 0.5,
                 direction: str = 'horizontal') -> None:
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f'RandomFlip prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ConfigError("RandomFlip direction must be 'horizontal' or "
                              f"'vertical', got {direction!r}")
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        """Maybe flip ``results['img']``.

        Args:
            results (dict): Must hold ``img``.

        Returns:
            dict: ``results`` with ``flip`` (bool) and ``flip_direction`` set.
        """
        # Drawing even when prob is 0 or 1 keeps the RNG stream independent
        # of the configured probability.
        flip = bool(np.random.rand() < self.prob)
        if flip:
            results['img'] = flip_image(results['img'], self.direction)
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize the image, antialiased.

    Args:
        size (int | tuple[int, int]): An int resizes the shorter side to
            ``size`` keeping the aspect ratio (torchvision's rule: the longer
            side becomes ``int(size * long / short)``); ``(h, w)`` resizes to
            exactly that.
        interpolation (str): 'bilinear', 'bicubic' or 'nearest'. Defaults to
            'bilinear'.
    """

    def __init__(self, size: Union[int, Sequence[int]],
                 interpolation: str = 'bilinear') -> None:
        if isinstance(size, numbers.Integral):
            if size <= 0:
                raise ConfigError(f'Resize size must be positive, got {size}')
            self.size: Union[int, Tuple[int, int]] = int(size)
        else:
            self.size = _pair_size(size, 'Resize')
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation)

    def transform(self, results: dict) -> dict:
        """Resize ``results['img']``.

        Args:
            results (dict): Must hold ``img``.

        Returns:
            dict: ``results`` with ``img`` and ``img_shape`` updated.
        """
        size = [self.size] if isinstance(self.size, int) else list(self.size)
        out = TF.resize(_chw(results['img']), size, interpolation=self._mode,
                        antialias=True)
        return _set_image(results, _hwc(out))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class CenterCrop(BaseTransform):
    """Crop the centre of the image; a crop larger than the image is padded
    with zeros, as torchvision does.

    Args:
        size (int | tuple[int, int]): Output ``(h, w)``, or an int for a
            square.
    """

    def __init__(self, size: Union[int, Sequence[int]]) -> None:
        self.size = _pair_size(size, 'CenterCrop')

    def transform(self, results: dict) -> dict:
        """Centre-crop ``results['img']``.

        Args:
            results (dict): Must hold ``img``.

        Returns:
            dict: ``results`` with ``img`` and ``img_shape`` updated.
        """
        out = TF.center_crop(_chw(results['img']), list(self.size))
        return _set_image(results, _hwc(out))

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size})'
