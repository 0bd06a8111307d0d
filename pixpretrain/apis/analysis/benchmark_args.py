"""The flags of ``tools/analysis/benchmark.py`` (what they do:
:mod:`pixpretrain.apis.analysis.benchmark`); ``benchmarks/`` builds them
too. A count or peak out of range, and a flag that would have no effect,
are refused here, before a config is read."""
import argparse
from typing import List, Optional

from pixpretrain.apis.cli import add_cfg_options, doc_summary
from pixpretrain.apis.cli_types import (non_negative_int, positive_float,
                                        positive_int)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The benchmark's arguments (``benchmarks/`` builds them too)."""
    from . import benchmark
    parser = argparse.ArgumentParser(
        description=doc_summary(benchmark.__doc__))
    parser.add_argument('config')
    parser.add_argument('--iters', type=positive_int, default=20,
                        help='timed iterations')
    parser.add_argument('--warmup', type=non_negative_int, default=5,
                        help='iterations run before timing')
    parser.add_argument('--batch-size', type=positive_int, default=None)
    parser.add_argument('--num-workers', type=non_negative_int, default=None)
    parser.add_argument('--data-root', default=None,
                        help='image folder replacing the config data root')
    parser.add_argument(
        '--fake-images', type=positive_int, default=None, metavar='N',
        help='generate N JPEGs of 500x375 (ImageNet-like size) and train on '
        'them; nothing is downloaded')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 on GPUs that have it, '
                        'bf16 autocast on CPUs with native bf16 '
                        '(AVX512-BF16, AMX)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step (config key '
                        '`compile`)')
    parser.add_argument(
        '--compile-backend', default=None,
        help='torch.compile backend with --compile (default inductor; '
        '"eager" traces the step without generating code: a quick check of '
        'the plumbing)')
    parser.add_argument(
        '--preload', type=non_negative_int, default=0, metavar='N',
        help='draw N batches through the data pipeline before training and '
        'replay them from host memory at every step: times the model alone, '
        'without JPEG decoding (use it where the data loader cannot keep up '
        'with the device)')
    parser.add_argument(
        '--split', action=argparse.BooleanOptionalAction, default=True,
        help='time forward / backward / optimizer separately (adds a device '
        'synchronisation at each boundary on a GPU)')
    parser.add_argument(
        '--flops', action=argparse.BooleanOptionalAction, default=True,
        help='count the model FLOPs of one training step')
    parser.add_argument(
        '--peak-tflops', type=positive_float, default=None,
        help='peak of the device for MFU; known GPUs are looked up')
    parser.add_argument(
        '--profile', type=positive_int, default=None, metavar='N',
        help='run torch.profiler over the last warm-up iteration (timed '
        'ones stay unprofiled) and report the N operators with the most '
        'self time')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--keep-work-dir', action='store_true',
                        help="keep the run's temporary work dir (its logs); "
                        'removed otherwise')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if args.compile_backend and not args.compile:
        parser.error('--compile-backend only applies with --compile: add '
                     '--compile or drop --compile-backend')
    if args.data_root and args.fake_images:
        parser.error('--data-root and --fake-images both name the images: '
                     'give one')
    return args
