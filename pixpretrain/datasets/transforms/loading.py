"""Reading images from disk into the pipeline's HWC uint8 RGB convention.

A full-size RGB JPEG is decoded by OpenCV straight into an RGB array: the same
libjpeg-turbo settings as PIL's (bit-identical pixels, checked by the tests)
without PIL's two copies from its own buffer into numpy. Its size comes from
the frame header, read by :func:`jpeg_frame`, so PIL never opens it. Every
other file (and any JPEG OpenCV refuses) goes through PIL, which also words
the error for a broken file.
"""
import io
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, UnidentifiedImageError

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import UnreadableImageError

from .jpeg import decode_rgb_jpeg, rgb_jpeg_size


@contextmanager
def image_read_errors(path: str) -> Iterator[None]:
    """Turn whatever goes wrong while reading ``path`` into an
    :class:`UnreadableImageError` naming the file and the reason.

    Wrap only the calls that open or decode the file: PIL raises OSError,
    ValueError, SyntaxError, struct.error, DecompressionBombError and more
    for broken files, and each of them is a property of the file, not of
    the code. Files cut short inside the scan stay errors (PIL's
    ``LOAD_TRUNCATED_IMAGES`` is left off, OpenCV refuses them too); a
    scan whose data is damaged but still ends in an end-of-image marker
    decodes in both libraries, grey or garbled where the data is.

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


def read_file(path: str) -> bytes:
    """The bytes of ``path``.

    Raises:
        UnreadableImageError: The file is missing or cannot be read.
    """
    with image_read_errors(path):
        with open(path, 'rb') as f:
            return f.read()


def open_bytes(path: str, data: bytes) -> Image.Image:
    """Open ``data`` (the bytes of ``path``) with PIL, not yet decoded.

    Raises:
        UnreadableImageError: ``data`` is empty or not an image.
    """
    with image_read_errors(path):
        try:
            return Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            # PIL names the in-memory buffer (a new address each time);
            # the message must name the file, and the same file alike.
            raise UnidentifiedImageError('cannot identify image file') \
                from None


def decode_full(image: Image.Image, data: bytes) -> np.ndarray:
    """Decode ``data`` in full as an HWC uint8 RGB array.

    RGB JPEGs go through OpenCV, with the same pixels as PIL; every other
    format or colour mode (grayscale, CMYK, PNG, ...) through
    :func:`pil_to_rgb_array`.

    Args:
        image: ``data`` opened with ``Image.open`` and not yet loaded.
        data: The file's bytes.
    """
    if image.format == 'JPEG' and image.mode == 'RGB':
        img = decode_rgb_jpeg(data, image.size[::-1])
        if img is not None:
            return img
    return pil_to_rgb_array(image)


def read_rgb(path: str) -> np.ndarray:
    """Read an image file of any mode as an HWC uint8 RGB array.

    Three-component JPEGs are decoded by OpenCV without opening them in PIL;
    everything else, and any JPEG OpenCV refuses, goes through PIL.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 array.

    Raises:
        UnreadableImageError: The file is missing, empty, truncated or not
            an image.
    """
    return decode_rgb(path, read_file(path))


def decode_rgb(path: str, data: bytes) -> np.ndarray:
    """Decode ``data``, the bytes of ``path``, in full as :func:`read_rgb`
    does (a converter checks a file it copies byte for byte with it).

    Raises:
        UnreadableImageError: ``data`` is empty, truncated or not an image.
    """
    size = rgb_jpeg_size(data)
    if size is not None:
        img = decode_rgb_jpeg(data, size)
        if img is not None:
            return img
    with open_bytes(path, data) as image, image_read_errors(path):
        return decode_full(image, data)


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
