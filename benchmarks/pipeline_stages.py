"""CPU milliseconds per image of each data-pipeline stage, one thread.

Times the MAE ImageNet pipeline stage by stage on generated JPEGs of a given
size: pixpretrain's two-step pipeline (LoadImageFromFile + RandomResizedCrop),
its one-step LoadRandomResizedCrop (reduced JPEG decoding), and, when
mmpretrain is importable, mmpretrain's pipeline from its MAE config. CPU time
(``time.process_time``) is used so other jobs on a shared machine disturb the
figures little. Run it with the mmpretrain environment that
``mmpretrain_side_by_side.py`` installs to get all three:

    PYTHONPATH=$PWD ~/.cache/pixpretrain/venv-mmpretrain-1.2.0/bin/python \
        benchmarks/pipeline_stages.py --size 500 375 --size 2000 1500
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', nargs=2, type=int, action='append',
                        metavar=('W', 'H'),
                        help='JPEG size (repeatable); 500 375 by default')
    parser.add_argument('--images', type=int, default=40)
    parser.add_argument('--passes', type=int, default=3)
    return parser.parse_args(argv)


def pipelines() -> Dict[str, List[Callable]]:
    from pixpretrain.datasets.transforms import (LoadImageFromFile,
                                                 LoadRandomResizedCrop,
                                                 PackInputs, RandomFlip,
                                                 RandomResizedCrop)
    crop = dict(size=224, scale=(0.2, 1.0), interpolation='bicubic')
    found = {
        'pixpretrain two-step': [
            LoadImageFromFile(), RandomResizedCrop(**crop), RandomFlip(),
            PackInputs()
        ],
        'pixpretrain LoadRandomResizedCrop': [
            LoadRandomResizedCrop(**crop), RandomFlip(), PackInputs()
        ],
    }
    try:
        from mmengine.registry import init_default_scope
        from mmpretrain.registry import TRANSFORMS

        from mmpretrain_side_by_side import mm_pipeline
    except ImportError:
        return found
    init_default_scope('mmpretrain')
    found['mmpretrain 1.2.0'] = [TRANSFORMS.build(t) for t in mm_pipeline()]
    return found


def time_stages(stages: List[Callable], paths: List[str],
                passes: int) -> np.ndarray:
    """Mean CPU milliseconds per image of each stage."""
    np.random.seed(0)
    seconds = np.zeros(len(stages))
    for _ in range(passes):
        for path in paths:
            results = dict(img_path=path)
            for i, stage in enumerate(stages):
                start = time.process_time()
                results = stage(results)
                seconds[i] += time.process_time() - start
    return seconds / (passes * len(paths)) * 1e3


def main(argv=None) -> None:
    args = parse_args(argv)
    import cv2
    import torch

    from pixpretrain.apis.analysis import benchmark
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    found = pipelines()
    for width, height in args.size or [(500, 375)]:
        with tempfile.TemporaryDirectory() as root:
            benchmark.make_fake_jpegs(root, args.images, (width, height))
            paths = [osp.join(root, 'fake', f'{i:06d}.jpg')
                     for i in range(args.images)]
            print(f'\n{width} x {height} JPEGs, CPU ms per image')
            print('| pipeline | stages (ms) | total ms | images / CPU-s |')
            print('|---|---|---|---|')
            for name, stages in found.items():
                time_stages(stages, paths[:4], 1)  # warm caches
                ms = time_stages(stages, paths, args.passes)
                parts = ', '.join(f'{type(s).__name__} {t:.2f}'
                                  for s, t in zip(stages, ms))
                print(f'| {name} | {parts} | {ms.sum():.2f} | '
                      f'{1e3 / ms.sum():.0f} |')


if __name__ == '__main__':
    main()
