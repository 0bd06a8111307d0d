"""Data sets and transforms; importing this package registers them all in
pixpretrain's ``DATASETS`` and ``TRANSFORMS`` registries."""
from .base import DATA_DOCS, build_pipeline
from .cifar import CIFAR10, CIFAR100
from .image_folder import IMG_EXTENSIONS, ImageFolder, scan_images
from .synthetic import SHAPE_CLASSES, SyntheticShapes, render_shape
from .transforms import (CenterCrop, LoadImageFromFile,
                         LoadRandomResizedCrop, PackInputs, RandomFlip,
                         RandomResizedCrop, Resize, pil_to_rgb_array)

__all__ = [
    'DATA_DOCS', 'build_pipeline', 'CIFAR10', 'CIFAR100', 'IMG_EXTENSIONS',
    'ImageFolder', 'scan_images', 'SHAPE_CLASSES', 'SyntheticShapes',
    'render_shape', 'CenterCrop', 'LoadImageFromFile', 'PackInputs',
    'RandomFlip', 'RandomResizedCrop', 'Resize', 'pil_to_rgb_array',
    'LoadRandomResizedCrop'
]
