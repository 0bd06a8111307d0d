"""kNN accuracy of a checkpoint, or of the untrained model, with a config's
validation (e.g. the KNNValLoop of configs/mocov2/resnet18_cifar10.py).

Example:
    python tools/analysis/knn_eval.py configs/mocov2/resnet18_cifar10.py \
        --checkpoint work_dirs/resnet18_cifar10/epoch_200.pth
    # no --checkpoint: the randomly initialised model, a baseline
"""
import argparse
import json
import sys
import tempfile

from mmengine.config import Config, DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', default=None,
                        help='weights to evaluate; none: random init')
    parser.add_argument('--work-dir', default=None,
                        help='where the log goes (a temporary folder)')
    parser.add_argument('--json', default=None, help='write metrics here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from mmengine.runner import Runner

    from pixpretrain.apis import prepare_train_config
    from pixpretrain.registry import explain

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('val_cfg') is None or cfg.get('val_evaluator') is None:
        raise SystemExit(f'error: {args.config} has no val_cfg / '
                         'val_evaluator to evaluate with')
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='pixpretrain-knn-')
    cfg = prepare_train_config(cfg, args.config, work_dir)
    cfg.resume, cfg.load_from = False, args.checkpoint
    try:
        metrics = Runner.from_cfg(cfg).val()
    except Exception as exc:  # noqa: BLE001 -- user errors get one line
        message = explain(exc)
        if message is None:
            raise
        raise SystemExit(f'error: {message}')
    result = dict(config=args.config,
                  checkpoint=args.checkpoint or 'random init',
                  metrics=metrics)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main(sys.argv[1:])
