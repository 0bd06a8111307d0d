r"""Convert an official MAE checkpoint (facebookresearch/mae) to pixpretrain.

    python tools/model_converters/mae2pixpretrain_vit.py \
        mae_pretrain_vit_base.pth DST.pth

The encoder becomes ``backbone.*`` (pixpretrain ViT); the decoder, where the
file has one (the "visualize" releases), becomes ``neck.*`` (MAEDecoder), so
DST resumes an MAE pretrainer with ``load_from``. Encoder-only files serve
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
"""
import sys
from typing import List, Optional

from pixpretrain.apis.cli import convert_main
from pixpretrain.models.converters import describe_vit, mae_to_pixpretrain


def main(argv: Optional[List[str]] = None) -> int:
    """Convert SRC to DST; the exit code."""
    return convert_main(__doc__, mae_to_pixpretrain, describe_vit, argv=argv)


if __name__ == '__main__':
    sys.exit(main())
