"""JPEG files without PIL: the frame header read by walking the marker
segments, and three-component JPEGs decoded by OpenCV with PIL's pixels."""
import struct
from typing import Optional, Tuple

import cv2
import numpy as np
from PIL import Image

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
