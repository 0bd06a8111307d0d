"""torchvision ResNet weights -> pixpretrain ResNet.

pixpretrain's ``ResNet`` keeps torchvision's parameter names (``conv1``,
``bn1``, ``layer1`` ... ``layer4`` with ``downsample.0/1``) and ends before
the pooling and the classifier, so conversion is a prefix and the ``fc``
classifier left out, with every other tensor checked against the layout.
"""
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from pixpretrain.registry import MODELS
from .rules import ConversionError, Rule, StateDict, convert_keys, prefixed

TORCHVISION_RESNET_RULES: List[Rule] = [
    ('conv1.weight', 'conv1.weight'),
    ('bn1.{p}', 'bn1.{p}'),
    *[(f'layer{s}.{{i}}.{part}.{{p}}', f'layer{s}.{{i}}.{part}.{{p}}')
      for s in range(1, 5)
      for part in ('conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3',
                   'downsample.0', 'downsample.1')],
]

# (blocks per stage, bottleneck) -> depth, as torchvision builds them.
_DEPTHS = {
    ((2, 2, 2, 2), False): 18,
    ((3, 4, 6, 3), False): 34,
    ((3, 4, 6, 3), True): 50,
    ((3, 4, 23, 3), True): 101,
    ((3, 8, 36, 3), True): 152,
}


def torchvision_to_pixpretrain_resnet(
    state_dict: StateDict, progress: bool = False
) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str]]:
    """torchvision ``resnet18/34/50/101/152`` weights -> ``backbone.*``.

    Returns:
        (``backbone.*`` tensors, ``{'fc.weight': reason, 'fc.bias': ...}``).
    """
    return convert_keys(
        state_dict, prefixed(TORCHVISION_RESNET_RULES, target='backbone.'),
        [('fc.{p}', 'classifier; pixpretrain backbones end before pooling '
          'and the classifier')],
        'torchvision -> pixpretrain' if progress else None)


def resnet_depth_of(backbone: StateDict) -> int:
    """The depth (18 ... 152) of torchvision-named ResNet tensors."""
    blocks = tuple(
        len({k.split('.')[1] for k in backbone
             if k.startswith(f'layer{s}.')}) for s in range(1, 5))
    bottleneck = 'layer1.0.conv3.weight' in backbone
    if (blocks, bottleneck) not in _DEPTHS:
        kind = 'bottleneck' if bottleneck else 'basic'
        raise ConversionError(
            f'blocks per stage {blocks} ({kind} blocks) match no standard '
            'ResNet depth')
    return _DEPTHS[blocks, bottleneck]


def resnet_config_of(backbone: StateDict) -> dict:
    """The ``ResNet`` config whose parameters have these shapes: the depth,
    and, where they differ from the defaults, the input channels and the
    CIFAR stem (a 3x3 ``conv1``; ImageNet's is 7x7).

    Args:
        backbone: torchvision-named ResNet tensors (no prefix).
    """
    if 'conv1.weight' not in backbone:
        raise ConversionError('not a ResNet state dict: no conv1.weight')
    config = dict(type='ResNet', depth=resnet_depth_of(backbone))
    conv1 = backbone['conv1.weight']
    if conv1.shape[1] != 3:
        config['in_channels'] = conv1.shape[1]
    if conv1.shape[-1] == 3:
        config['cifar_stem'] = True
    return config


def describe_resnet(converted: StateDict) -> List[str]:
    """Strict-load converted ``backbone.*`` tensors into pixpretrain's
    ResNet of their depth: the ``check`` of the torchvision converter.

    Args:
        converted: What :func:`torchvision_to_pixpretrain_resnet` produced.

    Returns:
        One line naming the config the tensors load into (or saying this
        pixpretrain has no ResNet to try).

    Raises:
        ConversionError: A tensor is missing, left over or of the wrong
            shape.
    """
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()}
    config = resnet_config_of(backbone)
    if MODELS.get('ResNet') is None:
        return [f"ResNet-{config['depth']}; this pixpretrain has no ResNet "
                'backbone to load it into']
    model = MODELS.build(config)
    try:
        missing, unexpected = model.load_state_dict(backbone, strict=False)
    except RuntimeError as exc:
        # torch's message spans lines; the tools print one.
        raise ConversionError(' '.join(str(exc).split())) from None
    if missing or unexpected:
        raise ConversionError(
            f'missing {missing}, unexpected {unexpected}')
    settings = ', '.join(f'{k}={v!r}' for k, v in config.items())
    return [f'every tensor loads strictly into model.backbone = '
            f'dict({settings})']
