"""How well a config's colour palette codes its images, and how predictable
its tokens are without context.

Runs the config's training pipeline up to its ``ColorQuantize`` step on
some images and reports:

* the round-trip error: mean Euclidean RGB distance (0-255 scale) between
  each pixel of the resized image and the palette colour of its token, and
  the mean absolute error per channel;
* the unigram entropy of the tokens, -sum_k p_k ln p_k with p_k the share
  of token k: the loss (in nats per token) of the best model that ignores
  every other pixel, the bar an AR model has to get under;

and optionally writes a picture: originals above their decoded tokens.

Example:
    python tools/analysis/palette_report.py \
        configs/igpt/igpt-nano_ar_cifar10-16.py --num-images 10000 \
        --png palette_roundtrip.png

The measuring is :mod:`pixpretrain.apis.analysis.palette_report`.
"""
import sys
from typing import List, Optional

from pixpretrain.apis.analysis.palette_report import (palette_report,
                                                      parse_args,
                                                      report_lines)
from pixpretrain.apis.cli import emit_json, run_cli


def report(args) -> None:
    """Measure, print the report in words and write ``--json``."""
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
