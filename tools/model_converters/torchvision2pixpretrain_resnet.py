r"""Convert torchvision ResNet weights to pixpretrain's ResNet.

    python tools/model_converters/torchvision2pixpretrain_resnet.py \
        resnet50-11ad3fa6.pth DST.pth

SRC is torchvision's ``resnet18/34/50/101/152`` state dict (as its released
files hold). DST has ``backbone.*`` keys, for
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
The ``fc`` classifier is left out (and reported).
"""
import sys
from typing import List, Optional

from pixpretrain.apis.cli import convert_main
from pixpretrain.models.converters import (
    describe_resnet, torchvision_to_pixpretrain_resnet)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert SRC to DST; the exit code."""
    return convert_main(__doc__, torchvision_to_pixpretrain_resnet,
                        describe_resnet, argv=argv)


if __name__ == '__main__':
    sys.exit(main())
