"""Train a pretrainer from a config: single device, torchrun or slurm."""
import argparse
from typing import List, Optional

from pixpretrain.apis.cli import (add_cfg_options, exit_tool, parse_launched,
                                 run_cli)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None, metavar='PATH',
        help='resume from PATH, or from the latest checkpoint in the work '
        'dir when no PATH is given')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (bf16 where supported)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr with the total batch size')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not validate during training (drops '
                        'val_cfg, val_dataloader and val_evaluator)')
    parser.add_argument(
        '--strategy', choices=['ddp', 'fsdp'], default=None,
        help='distributed strategy of a launched run: ddp (default), or '
        'fsdp (FSDP2 sharding of weights, gradients and optimizer state); '
        "the config's strategy dict when not given")
    parser.add_argument('--verbose', action='store_true',
                        help="mmengine's full console: environment, config "
                        'and every log line (by default they go to the log '
                        'file only, and the console shows warnings and '
                        'progress)')
    add_cfg_options(
        parser, help='override config keys, e.g. train_cfg.max_iters=100')
    return parse_launched(parser, argv)


def train(args: argparse.Namespace) -> None:
    """Build the Runner the config names, train, and name what it wrote."""
    from pixpretrain.apis import (build_runner, last_checkpoint, load_config,
                                  prepare_train_config)
    from pixpretrain.apis.console import hand_over, held_back_log, run_header
    from pixpretrain.apis.start_weights import check_start_weights

    with held_back_log() as setup_notes:
        cfg = load_config(args.config, args.cfg_options)
        cfg = prepare_train_config(cfg, args.config, args.work_dir,
                                   args.resume, args.amp, args.auto_scale_lr,
                                   args.launcher, args.no_validate,
                                   args.strategy)
        runner = build_runner(cfg, brief_console=not args.verbose)
        check_start_weights(runner.model, cfg)
    if runner.rank == 0:
        print(run_header(runner, args.config), flush=True)
    hand_over(setup_notes, runner.logger)
    runner.train()
    if runner.rank == 0:
        checkpoint = last_checkpoint(runner.work_dir)
        print(f'checkpoint: {checkpoint or "none saved"}')
        for hook in runner.hooks:
            path = getattr(hook, 'last_path', None)
            if path:
                print(f'picture: {path}')


def main(argv: Optional[List[str]] = None) -> int:
    """Train; the exit code (1 after a one-line error on stderr)."""
    return run_cli(train, parse_args(argv))


if __name__ == '__main__':
    exit_tool(main())
