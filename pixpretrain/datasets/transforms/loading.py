"""Reading images from disk into the pipeline's HWC uint8 RGB convention."""
import logging
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from PIL import Image, UnidentifiedImageError

from pixpretrain.registry import TRANSFORMS


def pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to an HWC uint8 RGB array.

    Args:
        image (PIL.Image.Image): An opened image (grayscale, RGB, RGBA, CMYK,
            palette, 16-bit, ...).

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 array.
    """
    if image.mode in ('I;16', 'I;16B', 'I;16L', 'I;16N'):
        # PIL's own I;16 -> RGB conversion clips at 255, turning most 16-bit
        # scans white; keeping the high byte preserves the tonal range.
        gray = (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode == 'P' and 'transparency' in image.info:
        # A palette image with a transparency entry must pass through RGBA,
        # otherwise PIL warns on every load.
        image = image.convert('RGBA')
    if image.mode != 'RGB':
        image = image.convert('RGB')
    return np.array(image, dtype=np.uint8)


def skip_unreadable(path: str, error: Exception, ignore_errors: bool) -> None:
    """Re-raise ``error`` unless ``ignore_errors``; else warn that ``path``
    is skipped (the caller then returns None)."""
    if not ignore_errors:
        raise error
    print_log(f'skipping unreadable image {path!r}: {error}',
              logger='current', level=logging.WARNING)


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load ``results['img_path']`` with PIL as an HWC uint8 RGB array.

    Sets ``img``, ``ori_shape`` and ``img_shape`` (both ``(h, w)``). EXIF
    orientation tags are ignored, like torchvision's and timm's ImageNet
    loaders, so pixels match the published pipelines.

    Args:
        ignore_errors (bool): If True, an unreadable or corrupt file makes the
            transform return None, so the data set draws another sample
            (mmengine's ``max_refetch``) instead of stopping the run. Defaults
            to False.
    """

    def __init__(self, ignore_errors: bool = False) -> None:
        self.ignore_errors = ignore_errors

    def transform(self, results: dict) -> Optional[dict]:
        """Read the image named by ``results['img_path']``.

        Args:
            results (dict): Must hold ``img_path``.

        Returns:
            dict or None: ``results`` with the image added, or None when the
            file is unreadable and ``ignore_errors`` is set.
        """
        path = results['img_path']
        try:
            with Image.open(path) as image:
                img = pil_to_rgb_array(image)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            skip_unreadable(path, exc, self.ignore_errors)
            return None
        results['img'] = img
        results['ori_shape'] = img.shape[:2]
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(ignore_errors={self.ignore_errors})'
