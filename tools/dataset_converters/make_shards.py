"""Write images as WebDataset tar shards: key.jpg, with key.txt (captions)
and key.cls (the class index) where the source has them.

From a caption manifest (JSON lines or CSV, see docs/clip.md)::

    python tools/dataset_converters/make_shards.py data/shards \
        --manifest data/captions/train.jsonl --shard-size 5000

From a labelled image folder, captions made from the class names::

    python tools/dataset_converters/make_shards.py data/cifar10_shards \
        --image-folder data/cifar10/train --templates "a photo of a {}."

Images alone, for MAE, MoCo or iGPT (``WebDatasetShards`` with
``with_captions=False``), from class sub-folders (labels kept as key.cls)
or a flat folder::

    python tools/dataset_converters/make_shards.py data/my_shards \
        --image-folder data/my_images --no-captions

JPEG files are copied byte for byte; other images are re-encoded as JPEG.
Samples are shuffled before sharding (class folders would otherwise give
one-class shards), and ``index.json`` lists the shards and their sizes.
"""
import argparse
import io
import json
import os
import sys
import tarfile
from typing import List, Optional, Sequence

import numpy as np

from pixpretrain.apis.cli import doc_summary, run_cli

JPEG_EXTS = ('.jpg', '.jpeg')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=doc_summary(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_dir', help='folder for the shards')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--manifest', help='JSON-lines or CSV manifest')
    source.add_argument('--image-folder',
                        help='folder of class sub-folders')
    parser.add_argument('--data-root', default=None,
                        help='folder the manifest paths start from '
                        "(default: the manifest's folder)")
    parser.add_argument('--templates', nargs='+',
                        default=['a photo of a {}.'],
                        help='caption templates for --image-folder')
    parser.add_argument('--no-captions', action='store_true',
                        help='write images (and class labels) only')
    parser.add_argument('--shard-size', type=int, default=1000,
                        help='samples per shard')
    parser.add_argument('--prefix', default='shard',
                        help='shard file names: PREFIX-000000.tar, ...')
    parser.add_argument('--no-shuffle', action='store_true',
                        help='keep the source order')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def build_source(args: argparse.Namespace):
    """The data set to read: a manifest, prompt captions of an image
    folder's classes, or (``--no-captions``) the image folder itself."""
    from pixpretrain.datasets import (ImageCaptionManifest, ImageFolder,
                                      PromptCaptions)
    if args.manifest:
        dataset = ImageCaptionManifest(os.path.abspath(args.manifest),
                                       data_root=args.data_root)
    elif args.no_captions:
        dataset = ImageFolder(args.image_folder)
    else:
        dataset = PromptCaptions(
            ImageFolder(args.image_folder, with_label=True),
            templates=args.templates)
    dataset.full_init()
    return dataset


def image_bytes(info: dict) -> bytes:
    """JPEG bytes of a sample: the file itself when it is a JPEG."""
    path = info.get('img_path')
    if 'img' not in info and path and path.lower().endswith(JPEG_EXTS):
        with open(path, 'rb') as f:
            return f.read()
    from PIL import Image

    from pixpretrain.datasets import pil_to_rgb_array
    if 'img' in info:
        img = info['img']
    else:
        with Image.open(path) as image:
            img = pil_to_rgb_array(image)
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format='JPEG', quality=95)
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mtime = 0  # identical input gives identical shards
    tar.addfile(member, io.BytesIO(data))


def write_shards(dataset, out_dir: str, shard_size: int, prefix: str,
                 shuffle: bool = True, seed: int = 0,
                 with_captions: bool = True) -> List[dict]:
    """Write every sample of ``dataset``: its image, its ``captions``
    (with ``with_captions``) and its ``gt_label`` where it has one.

    Returns:
        One ``dict(name, samples)`` per shard, in order.
    """
    from pixpretrain.utils.progress import progress
    if shard_size < 1:
        from pixpretrain.utils.errors import ConfigError
        raise ConfigError(f'--shard-size must be >= 1, got {shard_size}')
    os.makedirs(out_dir, exist_ok=True)
    order = np.arange(len(dataset))
    if shuffle:
        order = np.random.default_rng(seed).permutation(order)
    shards: List[dict] = []
    tar = None
    for position, index in enumerate(
            progress(order, desc='writing shards', unit='sample')):
        if position % shard_size == 0:
            if tar is not None:
                tar.close()
            name = f'{prefix}-{len(shards):06d}.tar'
            tar = tarfile.open(os.path.join(out_dir, name), 'w')
            shards.append(dict(name=name, samples=0))
        info = dataset.get_data_info(int(index))
        key = f'{position:09d}'
        _add(tar, f'{key}.jpg', image_bytes(info))
        if with_captions:
            _add(tar, f'{key}.txt',
                 '\n'.join(info['captions']).encode('utf-8'))
        if info.get('gt_label') is not None:
            _add(tar, f'{key}.cls', str(int(info['gt_label'])).encode())
        shards[-1]['samples'] += 1
    if tar is not None:
        tar.close()
    index = dict(shards=shards, samples=int(len(order)))
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    if classes:  # the names of the .cls indices
        index['classes'] = list(classes)
    with open(os.path.join(out_dir, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    return shards


def make_shards(args: argparse.Namespace) -> None:
    """Write the shards of the source ``args`` name."""
    from pixpretrain.utils.errors import ConfigError
    from pixpretrain.utils.fileio import check_output_path
    check_output_path(args.out_dir, 'OUT_DIR', folder=True)
    if os.sep in args.prefix or (os.altsep and os.altsep in args.prefix):
        raise ConfigError(
            f"--prefix '{args.prefix}' holds a folder: give a file name "
            'prefix, and put folders in OUT_DIR')
    dataset = build_source(args)
    shards = write_shards(dataset, args.out_dir, args.shard_size,
                          args.prefix, not args.no_shuffle, args.seed,
                          with_captions=not args.no_captions)
    last = len(shards) - 1
    print(f'{sum(s["samples"] for s in shards)} samples in {len(shards)} '
          f'shards: {os.path.join(args.out_dir, args.prefix)}-'
          f'{{000000..{last:06d}}}.tar')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the shards; the exit code (1 after a one-line error)."""
    return run_cli(make_shards, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
