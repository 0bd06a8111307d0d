"""kNN accuracy of a checkpoint, or of the untrained model, with a config's
validation (e.g. the KNNValLoop of configs/mocov2/resnet18_cifar10.py).

Example:
    python tools/analysis/knn_eval.py configs/mocov2/resnet18_cifar10.py \
        --checkpoint work_dirs/resnet18_cifar10/epoch_200.pth
    # no --checkpoint: the randomly initialised model, a baseline

The measuring is :mod:`pixpretrain.apis.analysis.knn_eval`.
"""
import sys
from typing import List, Optional

from pixpretrain.apis.analysis.knn_eval import knn_eval, parse_args
from pixpretrain.apis.cli import run_json_tool


def main(argv: Optional[List[str]] = None) -> int:
    """Evaluate; print the result as JSON (and write ``--json``)."""
    args = parse_args(argv)
    return run_json_tool(knn_eval, args)


if __name__ == '__main__':
    sys.exit(main())
