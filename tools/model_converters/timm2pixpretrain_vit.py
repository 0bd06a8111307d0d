"""Convert timm VisionTransformer weights to pixpretrain's ViT.

    python tools/model_converters/timm2pixpretrain_vit.py SRC.pth DST.pth

SRC is timm's ``model.state_dict()`` saved with ``torch.save`` (models with
a class token and ``norm`` before the head, e.g. ``vit_base_patch16_224``).
DST is a pixpretrain checkpoint with ``backbone.*`` keys, for
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
The classifier is left out (and reported); any other key that has no place
is an error.
"""
import sys
from typing import List, Optional

from pixpretrain.apis.cli import convert_main
from pixpretrain.models.converters import (describe_vit,
                                           timm_to_pixpretrain_vit)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert SRC to DST; the exit code."""
    return convert_main(__doc__, timm_to_pixpretrain_vit, describe_vit,
                        argv=argv)


if __name__ == '__main__':
    sys.exit(main())
