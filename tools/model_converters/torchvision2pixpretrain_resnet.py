"""Convert torchvision ResNet weights to pixpretrain's ResNet.

    python tools/model_converters/torchvision2pixpretrain_resnet.py \
        resnet50-11ad3fa6.pth DST.pth

SRC is torchvision's ``resnet18/34/50/101/152`` state dict (as its released
files hold). DST has ``backbone.*`` keys, for
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
The ``fc`` classifier is left out (and reported).
"""
import sys

from _common import main

from pixpretrain.models.converters import (resnet_depth_of,
                                           torchvision_to_pixpretrain_resnet)
from pixpretrain.models.converters.rules import ConversionError
from pixpretrain.registry import MODELS


def check(converted):
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()}
    depth = resnet_depth_of(backbone)
    if MODELS.get('ResNet') is None:
        return [f'ResNet-{depth}; this pixpretrain has no ResNet backbone '
                'to load it into']
    model = MODELS.build(dict(type='ResNet', depth=depth))
    try:
        missing, unexpected = model.load_state_dict(backbone, strict=False)
    except RuntimeError as exc:
        raise ConversionError(str(exc)) from None
    if missing or unexpected:
        raise ConversionError(
            f'missing {missing}, unexpected {unexpected}')
    return [f"every tensor loads strictly into model.backbone = "
            f"dict(type='ResNet', depth={depth})"]


if __name__ == '__main__':
    sys.exit(main(__doc__, torchvision_to_pixpretrain_resnet, check))
