"""Sampling speed of iGPT with and without the key/value cache.

Builds an AR iGPT of the given arch with random weights (speed does not
depend on them; the logit projection is randomised so samples depend on
the features), samples whole sequences from the start token both ways with
the same seed, checks the tokens agree, and reports the time of each and
the speed-up.

The command line: ``tools/analysis/igpt_sampling_speed.py``.
"""
import argparse
import platform
import time
from typing import List, Optional

from pixpretrain.apis.cli import doc_summary
from pixpretrain.apis.cli_types import device, positive_int


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The arguments of ``tools/analysis/igpt_sampling_speed.py``."""
    from pixpretrain.models.backbones.pixel_gpt import ARCH_ALIASES, ARCHS
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('--arch', default='tiny',
                        choices=list(ARCHS) + list(ARCH_ALIASES),
                        help='PixelGPT arch')
    parser.add_argument('--img-size', type=positive_int, default=32,
                        help='token grid side (32: 1024-token sequences)')
    parser.add_argument('--batch-size', type=positive_int, default=1)
    parser.add_argument('--num-colors', type=positive_int, default=512)
    parser.add_argument('--device', type=device, default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write results here')
    return parser.parse_args(argv)


def sampling_speed(args: argparse.Namespace) -> dict:
    """Sample whole sequences with and without the key/value cache.

    Args:
        args: What :func:`parse_args` returns.

    Returns:
        dict: Both times, tokens per second, the speed-up, and whether the
        two ways gave the same tokens.
    """
    import torch

    from pixpretrain.models import IGPT
    from pixpretrain.models.backbones.pixel_gpt import ARCH_ALIASES, ARCHS

    torch.manual_seed(args.seed)
    width = ARCHS[ARCH_ALIASES.get(args.arch, args.arch)]['embed_dims']
    model = IGPT(
        backbone=dict(type='PixelGPT', arch=args.arch,
                      num_colors=args.num_colors, img_size=args.img_size),
        head=dict(type='ARPixelHead', embed_dims=width,
                  num_colors=args.num_colors)).to(args.device).eval()
    torch.nn.init.normal_(model.head.proj.weight, std=0.5)
    length = args.img_size**2
    prefix = torch.zeros(args.batch_size, 0, dtype=torch.long,
                         device=args.device)

    def sample(use_cache: bool):
        generator = torch.Generator(args.device).manual_seed(args.seed)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        tokens = model.complete(prefix, length, use_cache=use_cache,
                                generator=generator)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        return tokens, time.perf_counter() - start

    sample(True)  # warm-up: allocator, kernels
    cached, cached_s = sample(True)
    uncached, uncached_s = sample(False)
    result = dict(
        arch=args.arch,
        sequence_length=length,
        batch_size=args.batch_size,
        device=(torch.cuda.get_device_name() if args.device.startswith('cuda')
                else f'CPU ({platform.machine()}, '
                f'{torch.get_num_threads()} threads)'),
        cached_s=cached_s,
        uncached_s=uncached_s,
        cached_tokens_per_s=args.batch_size * length / cached_s,
        uncached_tokens_per_s=args.batch_size * length / uncached_s,
        speedup=uncached_s / cached_s,
        same_tokens=bool(torch.equal(cached, uncached)),
        torch=torch.__version__)
    return result
