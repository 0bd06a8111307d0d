"""kNN accuracy of a checkpoint, or of the untrained model, with a config's
validation (e.g. the KNNValLoop of configs/mocov2/resnet18_cifar10.py).

Example:
    python tools/analysis/knn_eval.py configs/mocov2/resnet18_cifar10.py \
        --checkpoint work_dirs/resnet18_cifar10/epoch_200.pth
    # no --checkpoint: the randomly initialised model, a baseline
"""
import argparse
import tempfile
from typing import List, Optional

from pixpretrain.apis.cli import add_cfg_options, doc_summary


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The arguments of ``tools/analysis/knn_eval.py``."""
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('--checkpoint', default=None,
                        help='weights to evaluate; none: random init')
    parser.add_argument('--work-dir', default=None,
                        help='where the log goes (a temporary folder)')
    parser.add_argument('--json', default=None, help='write metrics here')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def knn_eval(args: argparse.Namespace) -> dict:
    """Validate ``args.checkpoint`` (or the untrained model) with the
    config's validation loop.

    Args:
        args: What :func:`parse_args` returns.

    Returns:
        dict: The config, the checkpoint and the metrics.

    Raises:
        ConfigError: The config has nothing to validate with.
        PathNotFoundError: A local checkpoint that does not exist.
        CheckpointError: The checkpoint's weights do not fit the model.
    """
    from mmengine.runner import Runner

    from pixpretrain.apis import load_config, prepare_train_config
    from pixpretrain.apis.start_weights import check_checkpoint_fits
    from pixpretrain.apis.test import require_checkpoint
    from pixpretrain.utils.errors import ConfigError

    cfg = load_config(args.config, args.cfg_options)
    if cfg.get('val_cfg') is None or cfg.get('val_evaluator') is None:
        raise ConfigError(f'{args.config} has no val_cfg / val_evaluator to '
                          'evaluate with')
    if args.checkpoint:
        require_checkpoint(args.checkpoint)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='pixpretrain-knn-')
    cfg = prepare_train_config(cfg, args.config, work_dir)
    cfg.resume, cfg.load_from = False, args.checkpoint
    runner = Runner.from_cfg(cfg)
    if args.checkpoint:
        check_checkpoint_fits(runner.model, args.checkpoint)
    metrics = runner.val()
    return dict(config=args.config,
                checkpoint=args.checkpoint or 'random init', metrics=metrics)
