"""Convert pixpretrain ViT weights to timm's VisionTransformer layout.

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

from _common import describe_vit, main

from pixpretrain.models.converters import (pixpretrain_to_timm_vit,
                                           timm_to_pixpretrain_vit)


def check(timm_state):
    # The timm layout maps back onto pixpretrain's ViT one to one.
    back, _ = timm_to_pixpretrain_vit(timm_state)
    lines = describe_vit(back)
    config = lines[1].split(' = ', 1)[1]
    lines[0] = ('every tensor has its timm name; the same weights load '
                'strictly into:')
    lines[1] = f'  model.backbone = {config}'
    return lines


if __name__ == '__main__':
    sys.exit(main(__doc__, pixpretrain_to_timm_vit, check,
                  pixpretrain_checkpoint=False))
