r"""Plot a run's loss and learning rate from mmengine's JSON scalar log.

    python tools/analysis/plot_logs.py work_dirs/vit-t-p4_cifar10
    python tools/analysis/plot_logs.py \
        RUN/20250101_120000/vis_data/scalars.json --out curves.png \
        --title 'MAE ViT-T, CIFAR-10'

A work dir holds one timestamped folder per launch; all of them are read in
order and merged by iteration, so a resumed run plots as one curve (a later
launch's values win where iterations repeat). The loss panel shows every
logged key containing 'loss' (``--keys`` picks others); the lower panel the
learning rate. matplotlib comes with mmengine.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pixpretrain.apis.analysis.training_logs import (
    find_logs, load_training_records)
from pixpretrain.apis.cli import run_cli
from pixpretrain.utils.fileio import check_output_path


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('logs', nargs='+',
                        help='scalars.json / <timestamp>.json files or work '
                        'dirs')
    parser.add_argument('--keys', nargs='+', default=None,
                        help="keys of the upper panel (default: every key "
                        "containing 'loss')")
    parser.add_argument('--out', default=None,
                        help='PNG to write (default: curves.png beside the '
                        'first log)')
    parser.add_argument('--title', default=None, help='figure title')
    return parser.parse_args(argv)


def plot_curves(records: Sequence[dict],
                keys: Optional[Sequence[str]] = None,
                title: Optional[str] = None) -> Figure:
    """Upper panel: ``keys`` (default: the losses); lower: the lr.

    Returns:
        The matplotlib figure (one line per key, x = iteration).
    """
    if keys is None:
        keys = sorted({k for r in records for k in r if 'loss' in k})
    figure = Figure(figsize=(7, 5.5), dpi=120)
    FigureCanvasAgg(figure)
    upper, lower = figure.subplots(2, 1, sharex=True,
                                   gridspec_kw=dict(height_ratios=[2, 1]))
    for key in keys:
        points = [(r['iter'], r[key]) for r in records if key in r]
        if not points:
            raise KeyError(f"no record holds '{key}'")
        upper.plot(*zip(*points), label=key, linewidth=1.2)
    upper.set_ylabel('loss' if all('loss' in k for k in keys) else 'value')
    upper.legend(loc='upper right')
    upper.grid(alpha=0.3)
    lr = [(r['iter'], r['lr']) for r in records if 'lr' in r]
    if lr:
        lower.plot(*zip(*lr), color='tab:orange', linewidth=1.2)
    lower.set_ylabel('learning rate')
    lower.set_xlabel('iteration')
    lower.ticklabel_format(axis='y', style='sci', scilimits=(-2, 2))
    lower.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_logs(args: argparse.Namespace) -> None:
    """Plot the logs ``args`` name and save the picture."""
    logs = [log for path in args.logs for log in find_logs(path)]
    out = Path(args.out) if args.out else logs[0].parent / 'curves.png'
    check_output_path(out, '--out')
    if not out.suffix:  # matplotlib would append it: name the true file
        out = out.with_name(out.name + '.png')
        check_output_path(out, '--out')
    records = load_training_records(logs)
    figure = plot_curves(records, args.keys, args.title)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    print(f'{len(records)} records from {len(logs)} log(s) -> {out}')


def main(argv: Optional[List[str]] = None) -> int:
    """Plot; the exit code (1 after a one-line error on stderr)."""
    # find_logs, load_training_records and plot_curves name what is missing
    # or unreadable with these built-in errors.
    return run_cli(plot_logs, parse_args(argv),
                   expected=(FileNotFoundError, ValueError, KeyError))


if __name__ == '__main__':
    sys.exit(main())
