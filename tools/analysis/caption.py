"""Caption image files with a trained captioner (ImageCaptioner) and write
a picture of the images with their captions.

Prints one line per image (path: caption) and writes a PNG grid.

Example:
    python tools/analysis/caption.py \
        configs/captioning/vit-tiny-p8_cifar10-captions.py \
        work_dirs/vit-tiny-p8_cifar10-captions/iter_400.pth \
        cat.png ship.png --beam-size 3 --out captions.png
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from pixpretrain.apis.cli import add_cfg_options, doc_summary, run_cli
from pixpretrain.apis.cli_types import device


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+', help='PNG or JPEG files')
    parser.add_argument('--beam-size', type=int, default=1,
                        help='1: greedy decoding; more: beam search')
    parser.add_argument('--out', default=None,
                        help='PNG path (default: captions.png beside the '
                        'checkpoint)')
    parser.add_argument('--device', type=device, default='cpu')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def caption(args: argparse.Namespace) -> None:
    """Generate the captions, print them, write the picture."""
    from pixpretrain.apis import load_config
    from pixpretrain.apis.captioning import (caption_grid, caption_images,
                                             config_tokenizer, load_captioner,
                                             load_images, save_picture)
    from pixpretrain.utils.fileio import check_output_path

    out = args.out or osp.join(osp.dirname(osp.abspath(args.checkpoint)),
                               'captions.png')
    check_output_path(out, '--out')
    cfg = load_config(args.config, args.cfg_options)
    tokenizer = config_tokenizer(cfg)
    model = load_captioner(cfg, args.checkpoint, args.device)
    images = load_images(args.images, model.backbone.img_size)
    captions = caption_images(model, images, tokenizer, args.beam_size)
    for path, text in zip(args.images, captions):
        print(f'{path}: {text}')
    save_picture(caption_grid(images, captions), out)
    print('picture: ' + out)


def main(argv: Optional[List[str]] = None) -> int:
    """Caption images; the exit code (1 after a one-line error)."""
    return run_cli(caption, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
