"""How well a config's colour palette codes its images (round-trip RGB
error) and how predictable its tokens are without context (unigram
entropy); optionally a picture of originals above their decoded tokens.
What each figure means: :mod:`pixpretrain.apis.analysis.palette_report`.

Example:
    python tools/analysis/palette_report.py \
        configs/igpt/igpt-nano_ar_cifar10-16.py --num-images 10000 \
        --png palette_roundtrip.png
"""
import sys
from typing import List, Optional

from pixpretrain.apis.analysis.palette_report import (palette_report,
                                                      parse_args,
                                                      report_lines)
from pixpretrain.apis.cli import emit_json, run_cli


def report(args) -> None:
    """Measure, print the report in words and write ``--json``."""
    from pixpretrain.utils.fileio import check_output_path

    check_output_path(args.json, '--json')
    result = palette_report(args)
    print('\n'.join(report_lines(result)))
    if args.png:
        print('picture (originals above their decoded tokens): '
              f'{args.png}')
    emit_json(result, args.json, show=False)


def main(argv: Optional[List[str]] = None) -> int:
    """Report on the palette; the exit code (1 after a one-line error)."""
    return run_cli(report, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
