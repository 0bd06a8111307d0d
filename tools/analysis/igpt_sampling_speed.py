"""Sampling speed of iGPT with and without the key/value cache (how it is
measured: :mod:`pixpretrain.apis.analysis.igpt_sampling_speed`).

Example:
    python tools/analysis/igpt_sampling_speed.py --arch tiny --img-size 32 \
        --batch-size 1
"""
import sys
from typing import List, Optional

from pixpretrain.apis.analysis.igpt_sampling_speed import (parse_args,
                                                           sampling_speed)
from pixpretrain.apis.cli import run_json_tool


def main(argv: Optional[List[str]] = None) -> int:
    """Time iGPT sampling; print the result as JSON (and write ``--json``)."""
    args = parse_args(argv)
    return run_json_tool(sampling_speed, args)


if __name__ == '__main__':
    sys.exit(main())
