"""The CPU captioning demo of docs/captioning.md: held-out caption figures
and a picture of CIFAR-10 test images with their generated captions.

Scores a checkpoint of ``configs/captioning/vit-tiny-p8_cifar10-captions.py``
(or the CoCa config) on N evenly spaced images of the CIFAR-10 test split, each
with a reference caption from the training templates (template i mod T):
teacher-forced NLL per token against the captions' unigram entropy, and the
share of greedy captions that name the image's class (chance: 10 %).

Example:
    python benchmarks/caption_demo.py \
        configs/captioning/vit-tiny-p8_cifar10-captions.py \
        work_dirs/vit-tiny-p8_cifar10-captions/iter_400.pth \
        --data-root ~/.cache/pixpretrain/cifar10 --images 1000 \
        --picture docs/images/captions_cifar10.png
"""
import argparse
import json
import sys
from typing import List, Optional

import torch

from pixpretrain.apis import load_config
from pixpretrain.apis.analysis.caption_quality import caption_quality
from pixpretrain.apis.captioning import (caption_grid, caption_images,
                                         config_tokenizer, load_captioner,
                                         save_picture)
from pixpretrain.apis.cli import doc_summary, run_cli
from pixpretrain.datasets import fill_template
from pixpretrain.registry import DATASETS


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--picture', default=None,
                        help='PNG of 16 of the images with their captions')
    return parser.parse_args(argv)


def demo(args: argparse.Namespace) -> None:
    torch.set_num_threads(2)
    cfg = load_config(args.config)
    tokenizer = config_tokenizer(cfg)
    model = load_captioner(cfg, args.checkpoint)
    dataset = DATASETS.build(dict(
        type='CIFAR10', data_root=args.data_root, split='test',
        test_mode=True, pipeline=[dict(type='PackInputs')]))
    names = [n.replace('_', ' ') for n in dataset.metainfo['classes']]
    templates = cfg.train_templates
    # Evenly spaced: an image-folder copy lists the test split class by
    # class, so its first N images would be one class.
    step = max(1, len(dataset) // args.images)
    samples = [dataset[i] for i in range(0, len(dataset), step)]
    samples = samples[:args.images]
    images = torch.stack([s['inputs'] for s in samples])
    labels = [int(s['data_samples'].gt_label) for s in samples]
    tokens = tokenizer([fill_template(templates[i % len(templates)],
                                      names[label])
                        for i, label in enumerate(labels)])
    result = caption_quality(model, images, tokens, labels, names,
                             tokenizer)
    if args.picture:
        shown = images[::max(1, len(images) // 16)][:16]
        captions = caption_images(model, shown, tokenizer)
        save_picture(caption_grid(shown, captions), args.picture)
        result['picture_captions'] = captions
    print(json.dumps(result, indent=2))


def main(argv: Optional[List[str]] = None) -> int:
    return run_cli(demo, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
