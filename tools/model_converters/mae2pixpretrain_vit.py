"""Convert an official MAE checkpoint (facebookresearch/mae) to pixpretrain.

    python tools/model_converters/mae2pixpretrain_vit.py \
        mae_pretrain_vit_base.pth DST.pth

The encoder becomes ``backbone.*`` (pixpretrain ViT); the decoder, where the
file has one (the "visualize" releases), becomes ``neck.*`` (MAEDecoder), so
DST resumes an MAE pretrainer with ``load_from``. Encoder-only files serve
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
"""
import sys

from _common import describe_vit, main

from pixpretrain.models.converters import mae_to_pixpretrain

if __name__ == '__main__':
    sys.exit(main(__doc__, mae_to_pixpretrain, describe_vit))
