"""How well a config's colour palette codes its images, and how predictable
its tokens are without context.

Runs the config's training pipeline up to its ``ColorQuantize`` step on
some images and reports:

* the round-trip error: mean Euclidean RGB distance (0-255 scale) between
  each pixel of the resized image and the palette colour of its token, and
  the mean absolute error per channel;
* the unigram entropy of the tokens, -sum_k p_k ln p_k with p_k the share
  of token k: the loss (in nats per token) of the best model that ignores
  every other pixel, the bar an AR model has to get under;

and optionally writes a picture: originals above their decoded tokens.

The command line: ``tools/analysis/palette_report.py``.
"""
import argparse
import math
import os
import os.path as osp
from typing import Any, Dict, List, Optional

import numpy as np
from pixpretrain.apis.cli import add_cfg_options, doc_summary
from pixpretrain.apis.cli_types import non_negative_int, positive_int


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The arguments of ``tools/analysis/palette_report.py``."""
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('--num-images', type=non_negative_int, default=10000,
                        help='images to measure (0: the whole data set)')
    parser.add_argument(
        '--size', type=positive_int, default=None,
        help="token grid side, replacing the ColorQuantize step's")
    parser.add_argument('--png', default=None,
                        help='write originals above decoded tokens here')
    parser.add_argument('--show', type=positive_int, default=8,
                        help='images in the picture')
    parser.add_argument('--scale', type=positive_int, default=4,
                        help='nearest-neighbour upscaling of the picture')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write results here')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def unigram_entropy(counts: np.ndarray) -> float:
    """Entropy in nats of the distribution ``counts / counts.sum()``."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def picture(originals: list, decoded: list, scale: int) -> np.ndarray:
    """Two rows, originals over decoded, 2 px white gaps; upscaled."""
    def row(images):
        h = images[0].shape[0]
        gap = np.full((h, 2, 3), 255, np.uint8)
        parts = [x for img in images for x in (img, gap)][:-1]
        return np.concatenate(parts, axis=1)

    top, bottom = row(originals), row(decoded)
    gap = np.full((2, top.shape[1], 3), 255, np.uint8)
    grid = np.concatenate([top, gap, bottom], axis=0)
    return grid.repeat(scale, axis=0).repeat(scale, axis=1)


def palette_report(args: argparse.Namespace) -> Dict[str, Any]:
    """Quantise images of ``args.config``'s data through its palette and
    measure the round trip and the tokens' entropy; write the picture to
    ``args.png`` if given.

    Args:
        args: What :func:`parse_args` returns.

    Returns:
        dict: The palette, the images measured, the round-trip errors and
        the unigram entropies (see :func:`report_lines`).
    """
    from PIL import Image

    from pixpretrain.apis import load_config
    from pixpretrain.datasets import tokens_to_rgb
    from pixpretrain.datasets.transforms.color_quantize import \
        find_color_quantize
    from pixpretrain.registry import DATASETS, TRANSFORMS
    from pixpretrain.registry import register_all_modules
    from pixpretrain.utils.fileio import check_output_path
    from pixpretrain.utils.progress import progress

    check_output_path(args.png, '--png')
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    index, quantize_cfg = find_color_quantize(dataset_cfg.pipeline)
    quantize_cfg = dict(quantize_cfg)
    if args.size is not None:
        quantize_cfg['size'] = args.size
    quantize = TRANSFORMS.build(quantize_cfg)
    dataset_cfg.pipeline = list(dataset_cfg.pipeline[:index])
    dataset = DATASETS.build(dataset_cfg)

    count = len(dataset) if args.num_images <= 0 else min(
        args.num_images, len(dataset))
    indices = np.random.default_rng(args.seed).permutation(
        len(dataset))[:count]
    np.random.seed(args.seed)  # random augmentations before quantising
    counts = np.zeros(len(quantize.palette), np.int64)
    distance_sum, abs_sum, pixels = 0.0, 0.0, 0
    originals, decoded = [], []
    for i in progress(indices, desc='quantising', unit='img'):
        results = quantize(dataset[int(i)])
        img, tokens = results['img'], results['tokens']
        back = tokens_to_rgb(tokens, quantize.palette)
        diff = img.astype(np.float64) - back
        distance_sum += np.sqrt((diff**2).sum(-1)).sum()
        abs_sum += np.abs(diff).mean(-1).sum()
        pixels += tokens.size
        counts += np.bincount(tokens.ravel(), minlength=len(counts))
        if len(originals) < args.show:
            originals.append(img)
            decoded.append(back)

    entropy = unigram_entropy(counts)
    result = dict(
        config=args.config,
        palette=quantize.palette_path,
        num_colors=len(quantize.palette),
        token_grid=list(quantize.size),
        images=count,
        round_trip_mean_rgb_distance=distance_sum / pixels,
        round_trip_mean_abs_error_per_channel=abs_sum / pixels,
        unigram_entropy_nats=entropy,
        unigram_entropy_bits=entropy / math.log(2),
        uniform_entropy_nats=math.log(len(counts)),
        colours_used=int((counts > 0).sum()))
    if args.png:
        os.makedirs(osp.dirname(osp.abspath(args.png)), exist_ok=True)
        Image.fromarray(picture(originals, decoded, args.scale)).save(
            args.png)
    return result


def report_lines(result: Dict[str, Any]) -> List[str]:
    """The report in words, from what :func:`palette_report` returns.

    Args:
        result: The report.
    """
    height, width = result['token_grid']
    return [
        f"{result['images']} images at {height}x{width} tokens, palette "
        f"{result['palette']} ({result['num_colors']} colours, "
        f"{result['colours_used']} used)",
        'round trip: mean per-pixel error '
        f"{result['round_trip_mean_rgb_distance']:.2f} (Euclidean RGB "
        'distance, 0-255 scale); mean absolute error per channel '
        f"{result['round_trip_mean_abs_error_per_channel']:.2f}",
        'unigram entropy of the tokens: '
        f"{result['unigram_entropy_nats']:.3f} nats = "
        f"{result['unigram_entropy_bits']:.3f} bits per token (uniform: "
        f"{result['uniform_entropy_nats']:.3f} nats)",
    ]
