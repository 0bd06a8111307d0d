"""Training throughput of a config on this machine, through mmengine's Runner.

Runs warm-up plus timed iterations of the real training step (data loading,
forward, backward, optimizer) and reports images/s, the step time split into
data wait / forward / backward / optimizer, peak memory, and the model's
FLOPs per image (forward + backward); on a GPU also the model FLOPs
utilisation (MFU) against the peak named in the output. The measuring is
:mod:`pixpretrain.apis.analysis.benchmark`.

Example:
    python tools/analysis/benchmark.py configs/mae/vit-b_800e.py \
        --fake-images 512 --batch-size 32 --iters 20 --warmup 5 \
        --cfg-options model.backbone.arch=s model.neck.encoder_dims=384
"""
import sys
from typing import List, Optional

from pixpretrain.apis.analysis.benchmark import parse_args, run_benchmark
from pixpretrain.apis.cli import run_json_tool


def main(argv: Optional[List[str]] = None) -> int:
    """Benchmark; print the result as JSON (and write ``--json``)."""
    args = parse_args(argv)
    return run_json_tool(run_benchmark, args)


if __name__ == '__main__':
    sys.exit(main())
