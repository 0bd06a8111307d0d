"""Test a trained checkpoint with its config's test loop and metrics
(fine-tuned classifiers, CLIP zero-shot, kNN), through mmengine's Runner."""
import argparse
from typing import List, Optional

from pixpretrain.apis.cli import (add_cfg_options, emit_json, exit_tool,
                                 parse_launched, run_cli)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file to test')
    parser.add_argument('--work-dir', help='where the test log goes')
    parser.add_argument('--out', metavar='JSON',
                        help='also write the metrics to this JSON file')
    add_cfg_options(
        parser,
        help='override config keys, e.g. test_dataloader.batch_size=64')
    return parse_launched(parser, argv)


def test(args: argparse.Namespace) -> None:
    """Load, prepare, run the test loop; print (and write) the metrics."""
    from mmengine.dist import get_rank

    from pixpretrain.apis import load_config
    from pixpretrain.apis.test import prepare_test_config, run_test
    from pixpretrain.utils.fileio import check_output_path

    check_output_path(args.out, '--out')
    cfg = load_config(args.config, args.cfg_options)
    cfg = prepare_test_config(cfg, args.config, args.checkpoint,
                              args.work_dir, args.launcher)
    metrics = run_test(cfg)
    if get_rank() == 0:
        # Metrics may be numpy or torch scalars: JSON takes plain floats.
        emit_json({key: round(float(value), 6) if hasattr(value, 'item')
                   else value
                   for key, value in metrics.items()}, args.out, flag='--out')


def main(argv: Optional[List[str]] = None) -> int:
    """Test; the exit code (1 after a one-line error on stderr)."""
    return run_cli(test, parse_args(argv))


if __name__ == '__main__':
    exit_tool(main())
