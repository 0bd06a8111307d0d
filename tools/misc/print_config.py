"""Print a config as the Runner sees it: ``_base_`` files merged, variables
substituted and ``--cfg-options`` applied.

    python tools/misc/print_config.py configs/mae/vit-t-p4_cifar10.py \
        --cfg-options train_cfg.max_epochs=10
"""
import argparse
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override config keys, e.g. train_cfg.max_epochs=10')
    return parser.parse_args(argv)


def resolved_config(path: str, options: Optional[dict] = None) -> Config:
    """The config at ``path`` with ``options`` merged and checked, as
    tools/train.py loads it."""
    from pixpretrain.apis import load_config
    return load_config(path, options)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        cfg = resolved_config(args.config, args.cfg_options)
    except (FileNotFoundError, SyntaxError, KeyError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'# {args.config}, resolved')
    print(cfg.pretty_text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
