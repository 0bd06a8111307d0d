"""State-dict converters between pixpretrain and other layouts (timm,
torchvision, the official MAE release, mmpretrain);
``tools/model_converters/`` wraps them as command-line tools."""
from .files import convert_file
from .mmpretrain import (MMPRETRAIN_RESNET_RULES, MMPRETRAIN_VIT_RULES,
                         describe_mmpretrain, mmpretrain_arch_of,
                         mmpretrain_to_pixpretrain)
from .openclip import (OPENCLIP_RULES, describe_openclip_clip,
                       openclip_clip_config, openclip_to_pixpretrain_clip)
from .resnet import (TORCHVISION_RESNET_RULES, describe_resnet,
                     resnet_config_of, resnet_depth_of,
                     torchvision_to_pixpretrain_resnet)
from .rules import (ConversionError, convert_keys, inverted, prefixed,
                    unwrap_checkpoint)
from .vit import (MAE_DECODER_RULES, TIMM_VIT_RULES, mae_to_pixpretrain,
                  pixpretrain_to_timm_vit, timm_to_pixpretrain_vit)
from .vit_config import (check_pixpretrain_vit, describe_timm_vit,
                         describe_vit, vit_config_of)

__all__ = [
    'ConversionError', 'convert_keys', 'inverted', 'prefixed',
    'unwrap_checkpoint', 'TIMM_VIT_RULES', 'MAE_DECODER_RULES',
    'TORCHVISION_RESNET_RULES', 'timm_to_pixpretrain_vit',
    'mae_to_pixpretrain', 'pixpretrain_to_timm_vit',
    'torchvision_to_pixpretrain_resnet', 'check_pixpretrain_vit',
    'vit_config_of', 'resnet_depth_of', 'convert_file', 'describe_vit',
    'describe_timm_vit', 'describe_resnet', 'resnet_config_of',
    'MMPRETRAIN_VIT_RULES', 'MMPRETRAIN_RESNET_RULES',
    'mmpretrain_to_pixpretrain', 'mmpretrain_arch_of', 'describe_mmpretrain',
    'OPENCLIP_RULES', 'openclip_to_pixpretrain_clip', 'openclip_clip_config',
    'describe_openclip_clip'
]
