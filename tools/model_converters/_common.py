"""Command-line plumbing shared by the converters in this folder."""
import argparse
import sys
from typing import Callable, List, Optional

from pixpretrain.models.converters import (check_pixpretrain_vit,
                                           convert_file)
from pixpretrain.utils.errors import PixpretrainError


def describe_vit(converted) -> List[str]:
    """Strict-load pixpretrain ViT (and MAE decoder) tensors; describe them
    as config lines."""
    configs = check_pixpretrain_vit(converted)
    lines = ['every tensor loads strictly into:']
    for part, config in configs.items():
        lines.append(f'  model.{part} = {config}')
    lines.append('  (the weights do not store the number of attention '
                 'heads: num_heads=1 above is a placeholder; use the '
                 "model's value)")
    return lines


def main(description: str, convert: Callable,
         check: Optional[Callable] = None,
         pixpretrain_checkpoint: bool = True,
         argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to save the converted weights')
    args = parser.parse_args(argv)
    try:
        lines = convert_file(args.src, args.dst, convert, check,
                             pixpretrain_checkpoint)
    except (PixpretrainError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print('\n'.join(lines))
    return 0
