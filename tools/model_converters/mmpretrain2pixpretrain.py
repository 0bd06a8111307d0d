"""Convert an mmpretrain 1.2.0 ViT or ResNet checkpoint to pixpretrain.

    python tools/model_converters/mmpretrain2pixpretrain.py SRC.pth DST.pth

SRC is a checkpoint saved by mmpretrain's Runner (``{'state_dict': ...,
'meta': ...}``) or a model's bare state dict. Its ``backbone.*`` and the
pixpretrain ``model.backbone`` to pair DST with:

- ``VisionTransformer`` / ``MAEViT`` / ``MoCoV3ViT`` ->
  ``dict(type='VisionTransformer', arch=dict(embed_dims=..., num_layers=...,
  num_heads=..., mlp_ratio=feedforward_channels / embed_dims),
  img_size=..., patch_size=..., qkv_bias=...)``
- ``ResNet`` (depth 18 ... 152) -> ``dict(type='ResNet', depth=...)``
- ``ResNet_CIFAR`` (3x3 stride-1 ``conv1``, no max-pool) ->
  ``dict(type='ResNet', depth=..., cifar_stem=True)``

The family (ViT or ResNet) is told from the tensor names, and the tool
prints the config the tensors load into strictly. Everything outside the
backbone (neck, head, MAE's decoder, MoCo's momentum encoder and queue) is
left out, with a count per part. DST has ``backbone.*`` keys, for
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

What the weights do not record, the pixpretrain config must repeat: the
ViT's ``num_heads`` (the tool prints a placeholder of 1) and its
LayerNorm eps (pixpretrain's is mmpretrain's default 1e-6); a ResNet built
with mmpretrain's defaults ``style='pytorch'``, ``strides=(1, 2, 2, 2)``,
``dilations=(1, 1, 1, 1)`` (other values compute something else on the
same tensors). pixpretrain's ViT returns mmpretrain's ``out_type='raw'``
(every token, class token first; final LayerNorm on the last block).
Variants pixpretrain does not build are refused, naming the tensor: layer
scale, SwiGLU MLPs, ``pre_norm``, ``final_norm=False`` or
``out_type='avg_featmap'`` (``ln2``) ViTs; ResNetV1c/V1d (deep stem,
``avg_down``); non-BatchNorm ResNets. Other architectures (Swin, ...) too.
"""
import sys
from typing import List, Optional

from pixpretrain.apis.cli import convert_main
from pixpretrain.models.converters import (describe_mmpretrain,
                                           mmpretrain_to_pixpretrain)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert SRC to DST; the exit code (1 after a one-line error)."""
    return convert_main(__doc__, mmpretrain_to_pixpretrain,
                        describe_mmpretrain, argv=argv)


if __name__ == '__main__':
    sys.exit(main())
