"""Complete the bottom half of images with a trained iGPT (AR head).

Takes the first images of the config's training data set (or others, via
``--cfg-options``), keeps the top half of their palette tokens, samples the
rest several times with a key/value cache (each new token costs one
position) and writes a PNG grid, one row per image:
original (its palette tokens decoded) | kept half | completions.

Example:
    python tools/analysis/igpt_complete.py \
        configs/igpt/igpt-nano_ar_cifar10-16.py \
        work_dirs/igpt-nano_ar_cifar10-16/iter_250.pth --num-images 6 \
        --num-samples 4 --temperature 1.0 --top-k 16
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import List, Optional

import numpy as np

from pixpretrain.apis.cli import add_cfg_options, doc_summary, run_cli
from pixpretrain.apis.cli_types import device, positive_float, positive_int


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-images', type=positive_int, default=4)
    parser.add_argument('--num-samples', type=positive_int, default=4,
                        help='completions per image')
    parser.add_argument('--temperature', type=positive_float, default=1.0)
    parser.add_argument('--top-k', type=positive_int, default=None,
                        help='sample among the k likeliest colours only')
    parser.add_argument('--no-cache', action='store_true',
                        help='rerun the whole prefix for every token (slow; '
                        'for comparison)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None,
                        help='PNG path (default: completions.png beside the '
                        'checkpoint)')
    parser.add_argument('--scale', type=positive_int, default=4,
                        help='nearest-neighbour upscaling of the picture')
    parser.add_argument('--device', type=device, default='cpu')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def complete(args: argparse.Namespace) -> None:
    """Sample completions of the top halves and write the picture."""
    import torch
    from mmengine.dataset import default_collate
    from PIL import Image

    from pixpretrain.apis import init_model, load_config
    from pixpretrain.datasets import load_palette
    from pixpretrain.datasets.transforms.color_quantize import \
        find_color_quantize
    from pixpretrain.models.utils.pictures import completion_grid
    from pixpretrain.registry import DATASETS, register_all_modules
    from pixpretrain.utils.fileio import check_output_path

    out = args.out or osp.join(osp.dirname(osp.abspath(args.checkpoint)),
                               'completions.png')
    check_output_path(out, '--out')
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    _, quantize = find_color_quantize(
        cfg.train_dataloader.dataset.pipeline)
    palette = load_palette(quantize['palette'])
    model = init_model(cfg, args.checkpoint, args.device)
    np.random.seed(args.seed)  # random augmentations of the pipeline
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    count = min(args.num_images, len(dataset))
    tokens = default_collate([dataset[i] for i in range(count)])['inputs']
    B, H, W = tokens.shape
    kept = H // 2
    prefix = tokens.flatten(1)[:, :kept * W].repeat_interleave(
        args.num_samples, dim=0).to(args.device)
    generator = torch.Generator(args.device).manual_seed(args.seed)
    print(f'sampling {(H - kept) * W} tokens for {len(prefix)} '
          f'sequences ({count} images x {args.num_samples}), '
          f"{'without' if args.no_cache else 'with'} the key/value cache")
    start = time.perf_counter()
    completed = model.complete(
        prefix, H * W, temperature=args.temperature, top_k=args.top_k,
        use_cache=not args.no_cache, generator=generator, progress=True)
    seconds = time.perf_counter() - start
    print(f'{seconds:.1f} s')
    samples = completed.view(B, args.num_samples, H, W).cpu().numpy()
    grid = completion_grid(tokens.numpy(), samples, kept, palette, args.scale)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    Image.fromarray(grid).save(out)
    print('picture (original | kept half | completions): ' + out)


def main(argv: Optional[List[str]] = None) -> int:
    """Complete images; the exit code (1 after a one-line error)."""
    return run_cli(complete, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
