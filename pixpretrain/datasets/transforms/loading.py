"""Reading images from disk into the pipeline's HWC uint8 RGB convention.

A full-size RGB JPEG is decoded by OpenCV straight into an RGB array: the same
libjpeg-turbo settings as PIL's (bit-identical pixels, checked by the tests)
without PIL's two copies from its own buffer into numpy. Its size comes from
the frame header, read by :func:`jpeg_frame`, so PIL never opens it. Every
other file (and any JPEG OpenCV refuses) goes through PIL, which also words
the error for a broken file.
"""
import io
import struct
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, UnidentifiedImageError

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import UnreadableImageError


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


# Start-of-frame markers of every JPEG coding process (C4, C8 and CC are
# other markers that share the range).
_SOF_MARKERS = frozenset(
    (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
     0xCF))
# Markers without a length field: TEM and the restart markers.
_BARE_MARKERS = frozenset((0x01, *range(0xD0, 0xD8)))


def jpeg_frame(data: bytes) -> Optional[Tuple[int, int, int, int]]:
    """Read a JPEG's frame header without decoding anything.

    Walks the marker segments from SOI to the first start-of-frame; a few
    microseconds, against tens for ``PIL.Image.open``.

    Args:
        data: The file's bytes.

    Returns:
        ``(height, width, components, precision)`` of the first frame, or
        None when ``data`` is not a JPEG or its header cannot be walked.
        ``height`` is 0 for a file that gives it later (a DNL marker).
    """
    if data[:2] != b'\xff\xd8':
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        if marker in _BARE_MARKERS:
            pos += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # image data before any frame
            return None
        if marker in _SOF_MARKERS:
            if pos + 10 > end:
                return None
            precision, height, width, components = struct.unpack_from(
                '>BHHB', data, pos + 4)
            return height, width, components, precision
        pos += 2 + struct.unpack_from('>H', data, pos + 2)[0]
    return None


def rgb_jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    """``(height, width)`` of a JPEG that :func:`decode_rgb_jpeg` can take:
    8-bit, three components (PIL's mode 'RGB'), size in the frame header,
    within PIL's decompression-bomb limit. None for every other file, so
    that PIL opens it (and refuses a bomb with its own error)."""
    frame = jpeg_frame(data)
    if frame is None:
        return None
    height, width, components, precision = frame
    if components != 3 or precision != 8 or height == 0 or width == 0:
        return None
    # PIL raises DecompressionBombError above twice its warning limit
    bomb_limit = Image.MAX_IMAGE_PIXELS
    if bomb_limit is not None and height * width > 2 * bomb_limit:
        return None
    return height, width


# RGB output, EXIF orientation ignored (as LoadImageFromFile and PIL do).
_CV2_RGB_FLAGS = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION


def decode_rgb_jpeg(data: bytes,
                    size: Tuple[int, int]) -> Optional[np.ndarray]:
    """Decode a three-component JPEG with OpenCV: libjpeg-turbo with PIL's
    settings, so PIL's pixels, without PIL's two copies into numpy.

    Args:
        data: The file's bytes.
        size: ``(height, width)`` from :func:`rgb_jpeg_size`.

    Returns:
        HWC uint8 RGB array, or None when OpenCV cannot decode ``data`` (a
        truncated file, say) or disagrees about the size; the caller then
        goes through PIL, which explains the failure.
    """
    img = cv2.imdecode(np.frombuffer(data, np.uint8), _CV2_RGB_FLAGS)
    if img is None or img.shape[:2] != tuple(size):
        return None
    return img


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
    data = read_file(path)
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
