"""SyntheticShapes: a small labelled image set generated in code, no files.

It exists so that demos, smoke tests and CI can run a whole pretrain +
probe cycle with nothing downloaded. The task is easy but real: colours,
positions and sizes vary, so no single pixel tells the class, yet a
nearest-centroid classifier on Fourier magnitudes already gets it right.
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError

from .base import ImageDataset, check_split

SHAPE_CLASSES = ('disc', 'square', 'triangle', 'ring', 'cross',
                 'horizontal_stripes', 'vertical_stripes', 'checkerboard',
                 'diagonal_gradient', 'dots')

# Separate RNG streams per split, so test samples never repeat train ones.
_SPLIT_STREAM = {'train': 0, 'test': 1}


def _shape_mask(label: int, u: np.ndarray, x: np.ndarray, y: np.ndarray,
                size: int) -> np.ndarray:
    """Foreground weight in [0, 1] for one class, shape ``(size, size)``.

    ``x`` is the row ``(1, size)`` and ``y`` the column ``(size, 1)`` of
    pixel-centre coordinates; broadcasting them keeps the work to a few
    whole-image operations. ``u`` holds three uniform [0, 1) draws that each
    class maps to its own parameters (radius and centre for shapes, period
    and phase for textures, direction for the gradient).
    """
    if label <= 4:  # shapes: a radius, then a centre keeping them in frame
        r = (0.22 + 0.18 * u[0]) * size
        dx = x - (r + u[1] * (size - 2 * r))
        dy = y - (r + u[2] * (size - 2 * r))
        if label == 0:
            mask = dx * dx + dy * dy <= r * r
        elif label == 1:
            # A half-side of 0.85 r gives about the disc's area.
            mask = np.maximum(np.abs(dx), np.abs(dy)) <= 0.85 * r
        elif label == 2:
            t = (dy + r) / (2 * r)  # 0 at the apex, 1 at the base
            mask = (np.abs(dx) <= t * r) & (t <= 1)
        elif label == 3:
            d2 = dx * dx + dy * dy
            mask = (d2 <= r * r) & (d2 >= (0.55 * r)**2)
        else:
            arm = 0.3 * r
            adx, ady = np.abs(dx), np.abs(dy)
            mask = ((adx <= arm) & (ady <= r)) | ((ady <= arm) & (adx <= r))
    elif label == 8:
        # One of the four diagonals, jittered by up to 15 degrees.
        angle = math.pi / 4 + math.floor(u[0] * 4) * math.pi / 2 + \
            (u[1] - 0.5) * math.pi / 6
        proj = (x - size / 2) * (math.cos(angle) / (0.75 * size)) + \
            (y - size / 2) * (math.sin(angle) / (0.75 * size))
        return np.clip(proj + 0.5, 0.0, 1.0)
    elif label == 9:
        period = (0.22 + 0.1 * u[0]) * size
        px = (x + u[1] * period) % period - period / 2
        py = (y + u[2] * period) % period - period / 2
        mask = px * px + py * py <= (0.27 * period)**2
    else:
        band = (0.08 + 0.08 * u[0]) * size  # stripe / square width
        # Coordinates are positive, so truncation is floor.
        rows = ((y + u[1] * 2 * band) / band).astype(np.int32) & 1
        cols = ((x + u[2] * 2 * band) / band).astype(np.int32) & 1
        mask = rows if label == 5 else cols if label == 6 else rows ^ cols
    return np.broadcast_to(mask, (size, size)).astype(np.float32)


def render_shape(seed: int, stream: int, index: int,
                 size: int = 32) -> Tuple[np.ndarray, int]:
    """Render sample ``index`` of the synthetic set.

    Everything random comes from ``numpy.random.default_rng((seed, stream,
    index))``, so a sample depends on nothing but its key.

    Args:
        seed (int): Data set seed, in [0, 2**32).
        stream (int): 0 for the train split, 1 for test.
        index (int): Sample index.
        size (int): Image side in pixels. Defaults to 32.

    Returns:
        tuple[np.ndarray, int]: The ``(size, size, 3)`` uint8 RGB image and
        its label (``index % 10``, so classes are exactly balanced).
    """
    label = index % len(SHAPE_CLASSES)
    rng = np.random.default_rng((seed, stream, index))
    u = rng.random(9)
    # Colours are 8 + [0, 240) and the noise is uniform in [-8, 8), so
    # pixels never leave [0, 255] and need no clipping; every channel of fg
    # and bg differs by 96..144 levels, so the pattern always shows.
    fg = np.floor(u[:3] * 240)
    bg = (fg + np.floor(96 + u[3:6] * 49)) % 240
    coords = np.arange(size, dtype=np.float32) + 0.5
    mask = _shape_mask(label, u[6:], coords[None, :], coords[:, None], size)
    # Built channel-first: broadcasting over a trailing axis of 3 is several
    # times slower in numpy than over whole (size, size) planes.
    # (8 + colour) + uniform[-8, 8) == colour + uniform[0, 16).
    img = rng.random((3, size, size), dtype=np.float32)
    img *= 16.0
    img += mask * (fg - bg).astype(np.float32)[:, None, None]
    img += bg.astype(np.float32)[:, None, None]
    return img.transpose(1, 2, 0).astype(np.uint8, order='C'), label


@DATASETS.register_module()
class SyntheticShapes(ImageDataset):
    """Ten classes of coloured shapes and textures, generated on the fly.

    Classes (:data:`SHAPE_CLASSES`): disc, square, triangle, ring, cross,
    horizontal stripes, vertical stripes, checkerboard, diagonal gradient,
    dots. Each sample draws its foreground/background colours, position,
    size (or period and phase) and light Gaussian noise from
    ``numpy.random.default_rng((seed, split_stream, index))``: the same
    index always gives the same image, with no files and no state.

    Args:
        num_samples (int): Number of samples. Defaults to 2000.
        img_size (int): Image side in pixels (at least 8). Defaults to 32.
        seed (int): Data set seed, in [0, 2**32). Defaults to 0.
        split (str): 'train' or 'test'; the splits use separate RNG streams,
            so their samples differ. Defaults to 'train'.
        pipeline (Sequence[dict | Callable]): Transforms; the pipeline
            starts with ``img`` already set. Defaults to ().
        indices (int | Sequence[int], optional): Keep only these samples.
            An int N keeps N samples spread evenly over the classes (see
            :func:`class_balanced_indices`); a sequence keeps exactly those
            samples.
        serialize_data (bool): mmengine's sample-list packing.
        test_mode (bool): mmengine's test mode.
        lazy_init (bool): Defer building the sample list.
        max_refetch (int): Retries when the pipeline returns None.
    """

    METAINFO = dict(classes=SHAPE_CLASSES)
    reads_images = False

    def __init__(self,
                 num_samples: int = 2000,
                 img_size: int = 32,
                 seed: int = 0,
                 split: str = 'train',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if num_samples < 1:
            raise ConfigError(
                f'SyntheticShapes num_samples must be >= 1, got {num_samples}')
        if img_size < 8:
            raise ConfigError(
                f'SyntheticShapes img_size must be >= 8, got {img_size}')
        if not 0 <= seed < 2**32:
            raise ConfigError(
                f'SyntheticShapes seed must be in [0, 2**32), got {seed}')
        self.num_samples = int(num_samples)
        self.img_size = int(img_size)
        self.seed = int(seed)
        self.split = check_split(split, 'SyntheticShapes')
        super().__init__(
            pipeline=pipeline, indices=indices, serialize_data=serialize_data,
            test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    def load_data_list(self) -> List[dict]:
        """One entry per sample: its index and label (images are rendered
        in :meth:`get_data_info`).

        Returns:
            list[dict]: ``sample_key``, ``gt_label``, ``img_path`` (None),
            ``ori_shape`` and ``img_shape``.
        """
        shape = (self.img_size, self.img_size)
        n = len(SHAPE_CLASSES)
        return [
            dict(sample_key=i, gt_label=i % n, img_path=None,
                 ori_shape=shape, img_shape=shape)
            for i in range(self.num_samples)
        ]

    def get_data_info(self, idx: int) -> dict:
        """The ``idx``-th sample with its image rendered into ``img``.

        Args:
            idx (int): Position in the (possibly subset) data set.

        Returns:
            dict: The sample's info with ``img`` set.
        """
        info = super().get_data_info(idx)
        info['img'], _ = self.render(info['sample_key'])
        return info

    def render(self, key: int) -> Tuple[np.ndarray, int]:
        """Render the sample with key ``key`` (its index in the full set).

        Args:
            key (int): Sample key, in ``[0, num_samples)``.

        Returns:
            tuple[np.ndarray, int]: HWC uint8 RGB image and label.
        """
        return render_shape(self.seed, _SPLIT_STREAM[self.split], key,
                            self.img_size)
