"""The arguments every tool shares: ``--cfg-options`` (checked before
mmengine's DictAction parses it), the launcher options of a tool torchrun
or slurm may start, and the ``--help`` summary from a module docstring."""
import argparse
import os
from typing import List, Optional

from mmengine.config import DictAction


def add_cfg_options(parser: argparse.ArgumentParser,
                    help: Optional[str] = None) -> None:
    """Add ``--cfg-options KEY=VALUE ...`` (mmengine's ``DictAction``).

    Args:
        parser: The tool's parser.
        help: The flag's help text (tools word it for their own keys).
    """
    parser.add_argument('--cfg-options', nargs='+', action=_CfgOptions,
                        default=None, help=help)


class _CfgOptions(DictAction):
    """mmengine's DictAction, a token without ``=`` refused by argparse
    (DictAction's own unpacking raised a ValueError traceback)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for token in values:
            if '=' not in token:
                parser.error(f'{option_string} {token}: every option is '
                             'KEY=VALUE, e.g. train_cfg.max_iters=100')
        super().__call__(parser, namespace, values, option_string)


def parse_launched(parser: argparse.ArgumentParser,
                   argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Add the options of a tool torchrun or slurm may start (``--launcher``,
    ``--local-rank``), parse, and export ``LOCAL_RANK`` for mmengine.

    Args:
        parser: The tool's parser, its own options added.
        argv: The arguments (``sys.argv[1:]`` when None).
    """
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'])
    # torch.distributed.launch passes --local-rank; torchrun sets the env.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    needed = _LAUNCHER_ENV.get(args.launcher)
    if needed and needed[0] not in os.environ:
        parser.error(f'--launcher {args.launcher}: {needed[0]} is not set, '
                     f'so no launcher started this process; {needed[1]}')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


#: What each launcher sets in a process it starts, and how to start one.
_LAUNCHER_ENV = {
    'pytorch': ('RANK', 'start it with torchrun (tools/dist_train.sh), or '
                'drop --launcher to run one process'),
    'slurm': ('SLURM_PROCID', 'start it with srun (tools/slurm_train.sh), '
              'or drop --launcher to run one process'),
}


def doc_summary(doc: Optional[str]) -> str:
    """A tool's ``--help`` description: the first paragraph of its module
    docstring, on one line.

    The first *line* is not enough: a summary wrapped over two lines was cut
    mid-sentence in ``--help``.

    Args:
        doc: The tool's ``__doc__`` (None under ``python -OO``).

    Returns:
        str: The text up to the first blank line, whitespace collapsed.
    """
    first = (doc or '').strip().split('\n\n')[0]
    return ' '.join(first.split())
