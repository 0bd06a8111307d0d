"""A picture of what a config's training pipeline gives the model: views
side by side (MoCo), crops and the model's random mask (MAE), palette
tokens decoded (iGPT), captions (CLIP); normalisation undone."""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from pixpretrain.apis.cli import add_cfg_options, run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', default='.',
                        help='where browse_<config name>.png goes')
    parser.add_argument('--num-images', type=int, default=8,
                        help='rows: the first N training samples')
    parser.add_argument('--scale', type=int, default=4,
                        help='nearest-neighbour upscaling (32 px is small)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the crops, views and masks')
    add_cfg_options(parser, help='override config keys, e.g. '
                    'train_dataloader.dataset.data_root=DIR')
    return parser.parse_args(argv)


def browse(args: argparse.Namespace) -> None:
    """Draw and save the picture; print its path."""
    from PIL import Image

    from pixpretrain.apis import load_config
    from pixpretrain.apis.analysis.browse import browse_picture
    from pixpretrain.utils.errors import ConfigError
    from pixpretrain.utils.fileio import check_output_path

    check_output_path(args.output_dir, '--output-dir', folder=True)
    for flag, value in (('--num-images', args.num_images),
                        ('--scale', args.scale)):
        if value < 1:
            raise ConfigError(f'{flag} must be at least 1, got {value}')
    cfg = load_config(args.config, args.cfg_options)
    picture = browse_picture(cfg, args.num_images, args.scale, args.seed)
    name = osp.splitext(osp.basename(args.config))[0]
    os.makedirs(args.output_dir, exist_ok=True)
    path = osp.join(args.output_dir, f'browse_{name}.png')
    Image.fromarray(picture).save(path, optimize=True)
    print(f'picture: {path}')


def main(argv: Optional[List[str]] = None) -> int:
    """Browse; the exit code (1 after a one-line error on stderr)."""
    return run_cli(browse, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
