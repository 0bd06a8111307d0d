"""Fit iGPT's colour palette: k-means colour clusters of a config's data.

Samples pixels from the config's training data set (its pipeline up to the
``ColorQuantize`` step, then resized to that step's size), clusters them
with mini-batch k-means in torch (k-means++ seeding, Sculley's per-centre
learning rates), saves the (K, 3) RGB centres on the 0-255 scale as
``.npy`` and prints the mean quantisation error. Seeded: the same config,
arguments and seed give the same palette.

Example:
    python tools/dataset_converters/fit_palette.py \
        configs/igpt/igpt-nano_ar_cifar10-16.py --cfg-options \
        train_dataloader.dataset.data_root=$HOME/.cache/pixpretrain/cifar10
"""
import argparse
import io
import random
import sys
from typing import List, Optional

import numpy as np
import torch
from pixpretrain.apis.cli import add_cfg_options, doc_summary, run_cli
from pixpretrain.apis.cli_types import positive_int


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output file (checkpoints '
                        'trained with the old palette no longer match it)')
    parser.add_argument(
        '--out', default=None,
        help="where to save the .npy (default: the ColorQuantize step's "
        'palette path)')
    parser.add_argument(
        '--num-colors', type=positive_int, default=None,
        help="clusters K (default: the ColorQuantize step's num_colors, "
        'else 512)')
    parser.add_argument('--num-images', type=positive_int, default=10000,
                        help='images to sample pixels from')
    parser.add_argument('--pixels-per-image', type=positive_int, default=32,
                        help='pixels drawn from each (resized) image')
    parser.add_argument('--iters', type=positive_int, default=300,
                        help='mini-batch k-means iterations')
    parser.add_argument('--batch-size', type=positive_int, default=8192,
                        help='pixels per k-means mini-batch')
    parser.add_argument('--seed', type=int, default=0)
    add_cfg_options(parser, help='override config keys, e.g. the data root')
    return parser.parse_args(argv)


def sample_pixels(dataset, num_images: int, pixels_per_image: int,
                  seed: int) -> torch.Tensor:
    """(N, 3) float32 pixels, a seeded draw from ``num_images`` images.

    The data set's pipeline must end with the image at its final size.
    """
    from pixpretrain.utils.progress import progress
    rng = np.random.default_rng(seed)
    count = min(num_images, len(dataset))
    indices = rng.choice(len(dataset), size=count, replace=False)
    # Random augmentations in the pipeline draw from numpy's global RNG.
    np.random.seed(seed)
    random.seed(seed)
    chunks = []
    for index in progress(indices, desc='sampling pixels', unit='img'):
        img = dataset[int(index)]['img']
        pixels = img.reshape(-1, 3)
        keep = rng.choice(len(pixels), size=min(pixels_per_image,
                                                len(pixels)), replace=False)
        chunks.append(pixels[keep])
    return torch.from_numpy(np.concatenate(chunks).astype(np.float32))


def kmeans_plus_plus(pixels: torch.Tensor, num_clusters: int,
                     generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii): each next centre drawn
    with probability proportional to its squared distance to the nearest
    centre so far.

    Args:
        pixels: (N, 3) distinct colours, N >= num_clusters.
        num_clusters: K.
        generator: RNG of the draws.

    Returns:
        (K, 3) initial centres.
    """
    first = torch.randint(len(pixels), (1, ), generator=generator)
    centres = [pixels[first[0]]]
    nearest = (pixels - centres[0]).pow(2).sum(1)  # (N,)
    for _ in range(1, num_clusters):
        index = torch.multinomial(nearest, 1, generator=generator)[0]
        centres.append(pixels[index])
        distance = (pixels - pixels[index]).pow(2).sum(1)
        nearest = torch.minimum(nearest, distance)
    return torch.stack(centres)


def minibatch_kmeans(pixels: torch.Tensor, num_clusters: int,
                     iters: int = 300, batch_size: int = 8192,
                     seed: int = 0, init_size: int = 10000) -> torch.Tensor:
    """Mini-batch k-means (Sculley, "Web-scale k-means clustering", 2010).

    Each step assigns a random batch to its nearest centres and moves every
    hit centre towards the batch mean of its pixels by ``hits / total
    hits``, so a centre is the running mean of all pixels ever assigned to
    it.

    Args:
        pixels: (N, 3) float colours.
        num_clusters: K; the pixels must hold at least K distinct colours.
        iters: Mini-batch steps.
        batch_size: Pixels per step.
        seed: Seed of the initial centres and of the batches.
        init_size: Distinct colours the k-means++ seeding draws from.

    Returns:
        (K, 3) float32 centres.
    """
    from pixpretrain.datasets.transforms.color_quantize import nearest_color
    from pixpretrain.utils.errors import ConfigError
    if min(num_clusters, iters, batch_size) < 1:
        raise ConfigError(
            f'num_colors={num_clusters}, iters={iters}, batch_size='
            f'{batch_size}: each must be 1 or more (an unfitted palette '
            'is no palette)')
    generator = torch.Generator().manual_seed(seed)
    distinct = torch.unique(pixels.float(), dim=0)  # sorted: deterministic
    if len(distinct) < num_clusters:
        raise ConfigError(
            f'the sampled pixels hold {len(distinct)} distinct colours, '
            f'fewer than num_colors={num_clusters}; sample more images or '
            'fit fewer colours')
    subset = torch.randperm(len(distinct), generator=generator)[:init_size]
    centres = kmeans_plus_plus(distinct[subset], num_clusters, generator)
    totals = torch.zeros(num_clusters)
    pixels = pixels.float()
    for _ in range(iters):
        batch = pixels[torch.randint(len(pixels), (batch_size, ),
                                     generator=generator)]
        assigned = nearest_color(batch, centres)  # (batch_size,)
        hits = torch.bincount(assigned, minlength=num_clusters).float()
        sums = torch.zeros_like(centres).index_add_(0, assigned, batch)
        totals += hits
        hit = hits > 0
        rate = (hits[hit] / totals[hit])[:, None]
        centres[hit] += rate * (sums[hit] / hits[hit, None] - centres[hit])
    return centres


def quantization_error(pixels: torch.Tensor, palette: torch.Tensor,
                       chunk: int = 65536) -> float:
    """Mean Euclidean RGB distance between each pixel and its nearest
    palette colour (0-255 scale)."""
    from pixpretrain.datasets.transforms.color_quantize import nearest_color
    total = 0.0
    for part in pixels.float().split(chunk):
        nearest = palette[nearest_color(part, palette)]
        total += (part - nearest).norm(dim=1).sum().item()
    return total / len(pixels)


def fit(args: argparse.Namespace) -> None:
    """Fit the palette on the config's images and save it."""
    from pixpretrain.apis import load_config
    from pixpretrain.datasets.transforms.color_quantize import \
        find_color_quantize
    from pixpretrain.registry import DATASETS
    from pixpretrain.registry import register_all_modules
    from pixpretrain.utils.fileio import atomic_write, check_output_path

    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    index, quantize = find_color_quantize(dataset_cfg.pipeline)
    size = quantize.get('size', 32)
    num_colors = (args.num_colors if args.num_colors is not None else
                  quantize.get('num_colors') or 512)
    out = args.out or quantize['palette']
    check_output_path(out, '--out' if args.out else 'palette',
                      keep=None if args.overwrite else
                      'checkpoints trained with that palette read it')
    dataset_cfg.pipeline = list(dataset_cfg.pipeline[:index]) + [
        dict(type='Resize',
             size=(size, size) if isinstance(size, int) else size,
             interpolation=quantize.get('interpolation', 'bilinear'))
    ]
    dataset = DATASETS.build(dataset_cfg)
    print(f'sampling {args.pixels_per_image} pixels from each of '
          f'{min(args.num_images, len(dataset))} images at {size} px')
    pixels = sample_pixels(dataset, args.num_images,
                           args.pixels_per_image, args.seed)
    print(f'fitting {num_colors} colours on {len(pixels)} pixels '
          f'({args.iters} mini-batches of {args.batch_size})')
    palette = minibatch_kmeans(pixels, num_colors, args.iters,
                               args.batch_size, args.seed)
    error = quantization_error(pixels, palette)
    buffer = io.BytesIO()  # np.save(path) would append '.npy'
    np.save(buffer, palette.numpy())
    atomic_write(buffer.getbuffer(), out)  # a checkpoint's palette: whole
    print(f'mean quantisation error: {error:.2f} (mean Euclidean RGB '
          f'distance per sampled pixel, 0-255 scale)')
    print(f'palette: {out}')


def main(argv: Optional[List[str]] = None) -> int:
    """Fit the palette; the exit code (1 after a one-line error)."""
    return run_cli(fit, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
