"""Loading and RandomResizedCrop in one step, decoding JPEGs only as large as
the crop needs.

libjpeg can decode at 1/2, 1/4 or 1/8 of the stored size almost for free
(it drops DCT coefficients instead of resampling pixels); PIL exposes that as
``Image.draft``. A crop that covers at least twice the output size in both
directions can therefore be cut from a reduced decode: fewer pixels decoded,
fewer pixels resampled, and the crop box, drawn on the full-size geometry
from the file header, stays the same.

A full-size decode of a three-component JPEG goes through OpenCV, its size
read from the frame header (:func:`rgb_jpeg_size`) without opening the file in
PIL, as in ``LoadImageFromFile``; other files through PIL.
"""
import math
from typing import Sequence, Tuple, Union

import numpy as np
from PIL import Image

from pixpretrain.registry import TRANSFORMS
from .image_ops import _set_image, resized_crop
from .jpeg import decode_rgb_jpeg, rgb_jpeg_size
from .loading import (decode_full, image_read_errors, open_bytes,
                      pil_to_rgb_array, read_file)
from .processing import RandomResizedCrop

JPEG_REDUCTIONS = (8, 4, 2)
_PIL_FILTERS = dict(nearest=Image.NEAREST, bilinear=Image.BILINEAR,
                    bicubic=Image.BICUBIC)


def jpeg_reduction(crop_hw: Tuple[int, int], out_hw: Tuple[int, int]) -> int:
    """The largest libjpeg reduction (8, 4, 2 or 1) after which the crop
    still has at least the output's pixels in both directions, so the final
    resize never upsamples what a full decode would have downsampled."""
    for factor in JPEG_REDUCTIONS:
        if (crop_hw[0] // factor >= out_hw[0]
                and crop_hw[1] // factor >= out_hw[1]):
            return factor
    return 1


def decode_reduced(image: Image.Image, factor: int) -> np.ndarray:
    """Decode an opened image at ``1 / factor`` of its size where the format
    allows it (JPEG), else at full size.

    Args:
        image: An image opened with ``Image.open`` and not yet loaded.
        factor: 1, 2, 4 or 8.

    Returns:
        HWC uint8 RGB array; for JPEG with ``factor > 1`` its size is
        ``ceil(h / factor), ceil(w / factor)``, pixel ``i`` covering the
        stored pixels ``[i * factor, (i + 1) * factor)``.
    """
    if factor > 1 and image.format == 'JPEG':
        width, height = image.size
        # PIL picks the largest reduction whose result still holds the
        # requested size, rounding down; libjpeg's output rounds up.
        image.draft('RGB', (max(1, width // factor), max(1, height // factor)))
    return pil_to_rgb_array(image)


@TRANSFORMS.register_module()
class LoadRandomResizedCrop(RandomResizedCrop):
    """``LoadImageFromFile`` followed by ``RandomResizedCrop``, decoding
    JPEGs at reduced size where the crop allows it.

    The crop box is drawn exactly as :class:`RandomResizedCrop` draws it on
    the full-size image (the size comes from the file header), so the random
    stream and the crop geometry match the two-step pipeline. When the crop
    is smaller than twice the output in either direction (always, for 224 px
    crops of ImageNet's typical 500 x 375 images) the image is decoded in
    full and the output is identical to the two-step pipeline; otherwise
    same box, in the reduced decode's fractional coordinates, is resampled
    by PIL (antialiased, as torchvision's resize), and the pixels differ from
    a full decode only by libjpeg's DCT downscaling (about half a grey level
    on average).

    Sets ``img``, ``img_shape``, ``ori_shape`` (the stored size),
    ``crop_bbox`` (``(top, left, h, w)`` in stored pixels) and
    ``decode_factor``. An unreadable file raises
    :class:`UnreadableImageError`, as in ``LoadImageFromFile``.

    Args:
        size: Output ``(h, w)``, or an int for a square.
        scale: Range of the crop's area as a fraction of the image's.
        ratio: Range of the crop's aspect ratio w / h.
        interpolation: 'bilinear', 'bicubic' or 'nearest'.
        reduced_decode: Decode JPEGs at reduced size when the crop allows.
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bilinear',
                 reduced_decode: bool = True) -> None:
        super().__init__(size, scale, ratio, interpolation)
        self.reduced_decode = reduced_decode

    def transform(self, results: dict) -> dict:
        """Read ``results['img_path']`` and crop it.

        Args:
            results (dict): Must hold ``img_path``.

        Returns:
            dict: ``results`` with the cropped image.
        """
        path = results['img_path']
        data = read_file(path)
        size = rgb_jpeg_size(data)
        image = None if size is not None else open_bytes(path, data)
        height, width = size if image is None else image.size[::-1]
        top, left, crop_h, crop_w = self.get_params(height, width)
        factor = (jpeg_reduction((crop_h, crop_w), self.size)
                  if self.reduced_decode else 1)
        img = (decode_rgb_jpeg(data, size)
               if image is None and factor == 1 else None)
        if img is None:  # PIL: other formats, reduced decodes, failures
            if image is None:
                image = open_bytes(path, data)
            with image, image_read_errors(path):
                img = (decode_reduced(image, factor) if factor > 1 else
                       decode_full(image, data))
        box = (top, left, crop_h, crop_w)
        if img.shape[:2] == (height, width):
            out = resized_crop(img, box, self.size, self._mode)
        else:
            out = self._crop_reduced(img, width, box)
        results['ori_shape'] = (height, width)
        results['crop_bbox'] = box
        results['decode_factor'] = 2**round(math.log2(width / img.shape[1]))
        return _set_image(results, out)

    def _crop_reduced(self, img: np.ndarray, width: int,
                      box: Tuple[int, int, int, int]) -> np.ndarray:
        """Resize the stored-pixel ``box`` of a reduced decode to the output.

        Reduced pixel ``i`` covers stored pixels ``[i * f, (i + 1) * f)``,
        so the box maps to fractional reduced coordinates; PIL resamples a
        fractional box exactly (antialiased, as torchvision's resize).
        """
        factor = 2**round(math.log2(width / img.shape[1]))
        top, left, crop_h, crop_w = (v / factor for v in box)
        resized = Image.fromarray(img).resize(
            (self.size[1], self.size[0]), _PIL_FILTERS[self.interpolation],
            box=(left, top, left + crop_w, top + crop_h))
        return np.asarray(resized, dtype=np.uint8).copy()

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, '
                f'reduced_decode={self.reduced_decode})')
