"""Parameters (all and trainable, per part) and FLOPs per image of a
config's model, counted by torch's FlopCounterMode on one forward pass."""
import argparse
import sys
from typing import List, Optional

from pixpretrain.apis.cli import add_cfg_options, emit_json, run_cli
from pixpretrain.apis.cli_types import positive_int


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape', type=positive_int, nargs=2, metavar=('H', 'W'),
        help='input size; default: the backbone\'s img_size, else the '
        'training crop, else 224 224')
    parser.add_argument('--json', metavar='PATH',
                        help='also write the numbers to this JSON file')
    add_cfg_options(parser, help='override config keys, e.g. '
                    'model.backbone.arch=s')
    return parser.parse_args(argv)


def _millions(count: float) -> str:
    return f'{count / 1e6:.3f} M'


def report(args: argparse.Namespace) -> None:
    """Measure the model and print a table (and the JSON with --json)."""
    from pixpretrain.apis import load_config
    from pixpretrain.apis.analysis.complexity import model_complexity
    from pixpretrain.utils.fileio import check_output_path

    check_output_path(args.json, '--json')
    cfg = load_config(args.config, args.cfg_options)
    result = model_complexity(cfg, args.shape)
    print(f"model: {result['model']}, input {tuple(result['input'])}")
    print(f"{'part':<20}{'params':>14}{'trainable':>14}{'GFLOPs':>12}")
    for part, counts in result['params'].items():
        flops = (sum(result['flops_per_part'].values()) if part == 'total'
                 else result['flops_per_part'].get(part))
        shown = '-' if flops is None else f'{flops / 1e9:.4f}'
        print(f"{part:<20}{_millions(counts['total']):>14}"
              f"{_millions(counts['trainable']):>14}{shown:>12}")
    print(f"FLOPs per image: {result['flops'] / 1e9:.4f} G "
          f"({result['macs'] / 1e9:.4f} G multiply-adds, what mmpretrain's "
          f"get_flops calls flops); counted: {result['counted']}")
    if args.json:
        emit_json(result, args.json, show=False)


def main(argv: Optional[List[str]] = None) -> int:
    """Measure; the exit code (1 after a one-line error on stderr)."""
    return run_cli(report, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
