"""Reading images from disk into the pipeline's HWC uint8 RGB convention."""
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import UnreadableImageError


@contextmanager
def image_read_errors(path: str) -> Iterator[None]:
    """Turn whatever goes wrong while reading ``path`` into an
    :class:`UnreadableImageError` naming the file and the reason.

    Wrap only the calls that open or decode the file: PIL raises OSError,
    ValueError, SyntaxError, struct.error, DecompressionBombError and more
    for broken files, and each of them is a property of the file, not of
    the code. Truncated files stay errors (PIL's ``LOAD_TRUNCATED_IMAGES``
    is left off), so no half-grey image is ever fed to a model.

    Args:
        path (str): The file being read, for the message.

    Raises:
        UnreadableImageError: ``"unreadable image '<path>': <reason>"``.
    """
    try:
        yield
    except UnreadableImageError:
        raise
    except Exception as exc:  # noqa: BLE001 -- see the docstring
        if isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror  # without the path the message has already
        else:
            reason = str(exc).replace(f" '{path}'", '') or type(exc).__name__
        raise UnreadableImageError(
            f"unreadable image '{path}': {reason}") from exc


def read_rgb(path: str) -> np.ndarray:
    """Read an image file of any mode as an HWC uint8 RGB array.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 array.

    Raises:
        UnreadableImageError: The file is missing, empty, truncated or not
            an image.
    """
    with image_read_errors(path), Image.open(path) as image:
        return pil_to_rgb_array(image)


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


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load ``results['img_path']`` with PIL as an HWC uint8 RGB array.

    Sets ``img``, ``ori_shape`` and ``img_shape`` (both ``(h, w)``). EXIF
    orientation tags are ignored, like torchvision's and timm's ImageNet
    loaders, so pixels match the published pipelines.

    A missing, empty, truncated or non-image file raises
    :class:`UnreadableImageError`; the image data sets catch it, skip the
    file with a warning and stop the run when too many are bad (their
    ``max_bad_fraction``).
    """

    def transform(self, results: dict) -> dict:
        """Read the image named by ``results['img_path']``.

        Args:
            results (dict): Must hold ``img_path``.

        Returns:
            dict: ``results`` with ``img``, ``ori_shape`` and ``img_shape``.
        """
        img = read_rgb(results['img_path'])
        results['img'] = img
        results['ori_shape'] = img.shape[:2]
        results['img_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
