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
Every image is decoded first; unreadable ones are skipped by name up to
``--max-bad-fraction`` of the source, above which the tool stops
(missing and empty files are counted before any shard is written).
Samples are shuffled before sharding (class folders would otherwise give
one-class shards), and ``index.json`` lists the shards and their sizes.
"""
import argparse
import glob
import io
import json
import os
import sys
import tarfile
from typing import List, Optional, Sequence

import numpy as np

from pixpretrain.apis.cli import doc_summary, run_cli
from pixpretrain.apis.cli_types import non_negative_float, positive_int

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
    parser.add_argument('--templates', nargs='+', default=None,
                        help='caption templates for --image-folder '
                        "(default: 'a photo of a {}.')")
    parser.add_argument('--no-captions', action='store_true',
                        help='write images (and class labels) only')
    parser.add_argument('--max-bad-fraction', type=non_negative_float,
                        default=0.01, help='unreadable images (missing, '
                        'empty, truncated, not an image) are skipped with a '
                        'warning; above this fraction of the source nothing '
                        'is written (as the data sets do in training)')
    parser.add_argument('--shard-size', type=positive_int, default=1000,
                        help='samples per shard')
    parser.add_argument('--prefix', default='shard',
                        help='shard file names: PREFIX-000000.tar, ...')
    parser.add_argument('--no-shuffle', action='store_true',
                        help='keep the source order')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.templates and (args.no_captions or args.manifest):
        parser.error('--templates makes captions from an image folder\'s '
                     'classes: drop it with --no-captions or --manifest')
    if args.data_root and args.image_folder:
        parser.error('--data-root is where manifest paths start: drop it '
                     'with --image-folder')
    if args.max_bad_fraction > 1:
        parser.error('--max-bad-fraction is a fraction: give 0 to 1')
    return args


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
            templates=args.templates or ['a photo of a {}.'])
    dataset.full_init()
    return dataset


def image_bytes(info: dict) -> bytes:
    """JPEG bytes of a sample: the file itself when it is a JPEG. Every
    file is decoded in full first, so a shard holds no broken image.

    Raises:
        UnreadableImageError: The file is missing, empty, truncated or not
            an image.
    """
    from PIL import Image

    from pixpretrain.datasets.transforms.loading import decode_rgb, read_file
    img = info.get('img')
    if img is None:
        path = info['img_path']
        data = read_file(path)
        img = decode_rgb(path, data)
        if path.lower().endswith(JPEG_EXTS):
            return data
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
                 with_captions: bool = True,
                 max_bad_fraction: float = 0.01) -> List[dict]:
    """Write every sample of ``dataset``: its image, its ``captions``
    (with ``with_captions``) and its ``gt_label`` where it has one.

    Unreadable images are skipped with a warning, up to ``max_bad_fraction``
    of the samples; missing and empty files are counted before anything is
    written, the ones that do not decode as they are met.

    Returns:
        One ``dict(name, samples)`` per shard, in order.
    """
    from pixpretrain.utils.errors import (BadDataError, ConfigError,
                                          UnreadableImageError)
    from pixpretrain.utils.progress import progress
    if shard_size < 1:
        raise ConfigError(f'--shard-size must be >= 1, got {shard_size}')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    allowed = int(max_bad_fraction * len(infos))
    bad = [p for p in (i.get('img_path') for i in infos if 'img' not in i)
           if not (os.path.isfile(p) and os.path.getsize(p))]

    def over_budget(count: int, example: str) -> BadDataError:
        return BadDataError(
            f'{count} of the {len(infos)} images are unreadable (missing, '
            f'empty or broken; e.g. {example}), above --max-bad-fraction '
            f'{max_bad_fraction:g}: fix or drop them from the source')

    if len(bad) > allowed:  # before writing anything
        raise over_budget(len(bad), f"'{bad[0]}' is missing or empty")
    os.makedirs(out_dir, exist_ok=True)
    order = np.arange(len(infos))
    if shuffle:
        order = np.random.default_rng(seed).permutation(order)
    shards: List[dict] = []
    tar, written, skipped = None, 0, 0
    for index in progress(order, desc='writing shards', unit='sample'):
        info = infos[int(index)]
        try:
            data = image_bytes(info)
        except UnreadableImageError as error:
            skipped += 1
            if skipped > allowed:
                raise over_budget(skipped, str(error)) from None
            print(f'skipping {error}', file=sys.stderr)
            continue
        if written % shard_size == 0:
            if tar is not None:
                tar.close()
            name = f'{prefix}-{len(shards):06d}.tar'
            tar = tarfile.open(os.path.join(out_dir, name), 'w')
            shards.append(dict(name=name, samples=0))
        key = f'{written:09d}'
        _add(tar, f'{key}.jpg', data)
        if with_captions:
            _add(tar, f'{key}.txt',
                 '\n'.join(info['captions']).encode('utf-8'))
        if info.get('gt_label') is not None:
            _add(tar, f'{key}.cls', str(int(info['gt_label'])).encode())
        shards[-1]['samples'] += 1
        written += 1
    if tar is not None:
        tar.close()
    if not written:
        raise BadDataError(f'none of the {len(infos)} images could be read')
    if skipped:
        print(f'skipped {skipped} unreadable images of {len(infos)}',
              file=sys.stderr)
    index = dict(shards=shards, samples=written)
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
    earlier = sorted(glob.glob(os.path.join(
        glob.escape(args.out_dir), f'{glob.escape(args.prefix)}-*.tar')))
    if earlier:  # a smaller run would leave the higher-numbered ones stale
        raise ConfigError(
            f"OUT_DIR '{args.out_dir}' holds {len(earlier)} shard(s) of an "
            f"earlier run ({os.path.basename(earlier[0])} ...): write into "
            'an empty folder, or delete them first')
    dataset = build_source(args)
    shards = write_shards(dataset, args.out_dir, args.shard_size,
                          args.prefix, not args.no_shuffle, args.seed,
                          with_captions=not args.no_captions,
                          max_bad_fraction=args.max_bad_fraction)
    last = len(shards) - 1
    print(f'{sum(s["samples"] for s in shards)} samples in {len(shards)} '
          f'shards: {os.path.join(args.out_dir, args.prefix)}-'
          f'{{000000..{last:06d}}}.tar')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the shards; the exit code (1 after a one-line error)."""
    return run_cli(make_shards, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
