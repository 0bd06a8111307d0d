"""Linear and kNN probes at every layer of a checkpoint, in one pass.

Extracts the pooled features of the requested layers over the train and
test splits (cached, so a second run skips extraction), fits linear
classifiers for all layers together and runs a weighted kNN, and writes a
table, ``results.json`` and ``accuracy_by_layer.png`` to the output folder.
Without a checkpoint it probes the random init; with one, the random init
too unless --no-baseline.

Features are cached on disk in float16, shard by shard: an interrupted
run resumes from its last finished shard, and under torchrun
(``--launcher pytorch``) every rank extracts its share of the shards.

Example:
    python tools/analysis/probe.py configs/mae/vit-t-p4_cifar10.py \
        work_dirs/vit-t-p4_cifar10/epoch_200.pth --layers all \
        --data cifar10 --data-root data/cifar10
    torchrun --nproc-per-node 8 tools/analysis/probe.py CONFIG CKPT \
        --data data/my_images --launcher pytorch
"""
import argparse
import os.path as osp
from typing import List, Optional

from pixpretrain.apis.cli import (doc_summary, exit_tool, parse_launched,
                                 run_cli)
from pixpretrain.apis.cli_types import (device, non_negative_float_list,
                                       non_negative_int, positive_float,
                                       positive_int, positive_int_list)
from pixpretrain.applications.probe.data import describe_presets


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The probe's flags.

    Args:
        argv: The arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed flags.
    """
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config', help='config of the model')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint; omit to probe the random init')
    parser.add_argument('--layers', default='all',
                        help="'all' or block indices from 0, e.g. 3,6,9")
    # Listed from the presets themselves, so a new one shows up here.
    parser.add_argument('--data', default='cifar10',
                        help=f'data preset: {describe_presets()}; or a '
                        'labelled image folder (DIR/train/<class>/<image> '
                        'and DIR/val/<class>/<image>); or a config file '
                        'whose train_dataloader and test_dataloader hold '
                        'labelled data sets')
    parser.add_argument('--crop-ratio', type=float, default=None,
                        help='evaluation crop: 1 resizes straight to the '
                        'input size, 0.875 resizes to size / 0.875 and '
                        "centre-crops (default: the preset's; 1 for folders "
                        'and configs)')
    parser.add_argument('--data-root', default=None,
                        help="folder of the data (default: the preset's, "
                        'e.g. data/cifar10; see docs/data_preparation.md)')
    parser.add_argument('--method', default='both',
                        choices=['linear', 'knn', 'both'])
    parser.add_argument('--pool', default='avg', choices=['avg', 'cls'],
                        help='average the patch tokens, or take the cls token')
    parser.add_argument('--out', default=None,
                        help='output folder (default work_dirs/probe/'
                        '<config name>)')
    parser.add_argument('--no-baseline', action='store_true',
                        help='with a checkpoint, skip the random init')
    parser.add_argument('--train-samples', type=positive_int, default=None,
                        help='an evenly spaced subset of the train split')
    parser.add_argument('--test-samples', type=positive_int, default=None)
    parser.add_argument('--cache-dir', default='work_dirs/feature_cache')
    parser.add_argument('--shard-size', type=positive_int, default=4096,
                        help='images per cache shard: the unit an '
                        'interrupted extraction resumes from and ranks '
                        'share out')
    parser.add_argument('--batch-size', type=positive_int, default=256)
    parser.add_argument('--num-workers', type=non_negative_int, default=2)
    parser.add_argument('--device', type=device, default=None,
                        help='default: cuda when available, else cpu')
    parser.add_argument('--epochs', type=positive_int, default=20,
                        help='epochs of the linear classifiers')
    parser.add_argument('--weight-decays', default=None,
                        type=non_negative_float_list,
                        help='comma-separated L2 penalties to sweep')
    parser.add_argument('--knn-k', type=positive_int_list, default='20,200',
                        help='comma-separated neighbour counts (each at most '
                        'the train images)')
    parser.add_argument('--knn-temperature', type=positive_float, default=0.07)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--img-size', type=positive_int, default=None,
                        help='side to resize images to, for backbones with '
                        'no fixed input size (ResNet); a ViT uses its own')
    parser.add_argument('--zero-shot', action='store_true',
                        help='also classify the test split zero-shot (CLIP '
                        "configs: prompts and tokenizer from the config's "
                        'ZeroShotAccuracy); loads the whole checkpoint')
    return parse_launched(parser, argv)


def probe(args: argparse.Namespace) -> int:
    """Probe every layer, print the table, write the JSON and the plot."""
    import torch
    from mmengine.dist import get_dist_info

    from pixpretrain.applications.probe import (DEFAULT_WEIGHT_DECAYS,
                                                ProbeSettings, format_table,
                                                init_distributed,
                                                plot_accuracy, run_probe,
                                                write_json)
    from pixpretrain.utils.errors import ConfigError
    from pixpretrain.utils.fileio import check_output_path

    if args.no_baseline and args.checkpoint is None:
        # without a checkpoint the random init is all there is to probe
        raise ConfigError('--no-baseline skips the random init, all there '
                          'is to probe without a checkpoint: give a '
                          'checkpoint or drop --no-baseline')
    out = args.out or osp.join(
        'work_dirs', 'probe', osp.splitext(osp.basename(args.config))[0])
    check_output_path(out, '--out', folder=True)
    check_output_path(args.cache_dir, '--cache-dir', folder=True)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    init_distributed(args.launcher, device)
    methods = ['linear', 'knn'] if args.method == 'both' else [args.method]
    weight_decays = (DEFAULT_WEIGHT_DECAYS if args.weight_decays is None
                     else args.weight_decays)
    settings = ProbeSettings(
        args.config, args.checkpoint, layers=args.layers, data=args.data,
        data_root=args.data_root, crop_ratio=args.crop_ratio,
        methods=methods, pool=args.pool,
        baseline=not args.no_baseline, train_samples=args.train_samples,
        test_samples=args.test_samples, cache_dir=args.cache_dir,
        shard_size=args.shard_size, batch_size=args.batch_size,
        num_workers=args.num_workers, device=device,
        seed=args.seed, weight_decays=weight_decays, epochs=args.epochs,
        knn_ks=args.knn_k,
        knn_temperature=args.knn_temperature, zero_shot=args.zero_shot,
        img_size=args.img_size)
    report = run_probe(settings)
    if get_dist_info()[0] != 0:
        return 0  # rank 0 reports
    print(format_table(report))
    write_json(report, osp.join(out, 'results.json'))
    plot_accuracy(report, osp.join(out, 'accuracy_by_layer.png'))
    print(f'results: {osp.join(out, "results.json")}')
    print(f'plot: {osp.join(out, "accuracy_by_layer.png")}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Probe; the exit code (1 after a one-line error)."""
    return run_cli(probe, parse_args(argv), expected=(FileNotFoundError, ))


if __name__ == '__main__':
    exit_tool(main())
