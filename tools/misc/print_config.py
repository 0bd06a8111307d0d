r"""Print a config as the Runner sees it: ``_base_`` files merged, variables
substituted and ``--cfg-options`` applied.

    python tools/misc/print_config.py configs/mae/vit-t-p4_cifar10.py \
        --cfg-options train_cfg.max_epochs=10
"""
import argparse
import sys
from typing import List, Optional

from mmengine.config import Config

from pixpretrain.apis.cli import add_cfg_options, run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='config file')
    add_cfg_options(
        parser, help='override config keys, e.g. train_cfg.max_epochs=10')
    return parser.parse_args(argv)


def resolved_config(path: str, options: Optional[dict] = None) -> Config:
    """The config at ``path`` with ``options`` merged and checked, as
    tools/train.py loads it."""
    from pixpretrain.apis import load_config
    return load_config(path, options)


def print_resolved(args: argparse.Namespace) -> None:
    """Print the config ``args`` name, options merged."""
    cfg = resolved_config(args.config, args.cfg_options)
    print(f'# {args.config}, resolved')
    print(cfg.pretty_text)


def main(argv: Optional[List[str]] = None) -> int:
    """Print the config; the exit code (1 after a one-line error)."""
    # mmengine's own errors for a file that does not parse, or a base key
    # that is not there, read well enough to print as they are.
    return run_cli(print_resolved, parse_args(argv),
                   expected=(FileNotFoundError, SyntaxError, KeyError,
                             ValueError))


if __name__ == '__main__':
    sys.exit(main())
