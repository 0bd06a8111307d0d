r"""Convert pixpretrain ViT weights to timm's VisionTransformer layout.

    python tools/model_converters/pixpretrain2timm_vit.py \
        work_dirs/vit-b_800e/epoch_800.pth vit_b_mae_timm.pth

SRC is a pixpretrain checkpoint: its ``backbone.*`` tensors are converted;
the neck, heads and any other branch are left out, each reported. DST is a
bare state dict for timm, e.g.::

    model = timm.create_model('vit_base_patch16_224', num_classes=1000)
    model.load_state_dict(torch.load('vit_b_mae_timm.pth'), strict=False)
    # missing: head.weight, head.bias (the new classifier), nothing else

pixpretrain's default sin-cos position embedding is saved as timm's
``pos_embed`` tensor (timm learns it from there when fine-tuning).
"""
import sys
from typing import List, Optional

from pixpretrain.apis.cli import convert_main
from pixpretrain.models.converters import (describe_timm_vit,
                                           pixpretrain_to_timm_vit)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert SRC to DST; the exit code."""
    return convert_main(__doc__, pixpretrain_to_timm_vit, describe_timm_vit,
                        pixpretrain_checkpoint=False, argv=argv)


if __name__ == '__main__':
    sys.exit(main())
