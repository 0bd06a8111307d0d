"""Data sets, transforms and tokenizers; importing this package registers
them all in pixpretrain's ``DATASETS``, ``DATA_SAMPLERS``, ``TRANSFORMS``
and ``TOKENIZERS`` registries."""
from .bad_images import BadImageBudget, fetch_sample
from .base import (DATA_DOCS, ImageDataset, build_pipeline,
                   class_balanced_indices)
from .bpe import BPETokenizer
from .captioned import ImageCaptionManifest
from .cifar import CIFAR10, CIFAR100
from .folder_scan import scan_images
from .image_folder import IMG_EXTENSIONS, ImageFolder
from .prompt_captions import PromptCaptions, fill_template
from .samplers import ResumableSampler
from .synthetic import SHAPE_CLASSES, SyntheticShapes, render_shape
from .tokenizers import ByteTokenizer, build_tokenizer
from .transforms import (CenterCrop, ColorJitter, ColorQuantize, GaussianBlur,
                         LoadImageFromFile, LoadRandomResizedCrop, MultiView,
                         PackInputs, RandomFlip,
                         RandomGrayscale, RandomResizedCrop, Resize, Solarize,
                         TokenizeText, load_palette,
                         pil_to_rgb_array, tokens_to_rgb)
from .openclip_tokenizer import OpenCLIPTokenizer
from .webdataset import WebDatasetShards
from .wds_stream import WebDatasetStream

__all__ = [
    'DATA_DOCS',
    'build_pipeline',
    'ImageDataset',
    'class_balanced_indices',
    'BadImageBudget',
    'fetch_sample',
    'CIFAR10',
    'CIFAR100',
    'IMG_EXTENSIONS',
    'ImageFolder',
    'scan_images',
    'SHAPE_CLASSES',
    'SyntheticShapes',
    'render_shape',
    'CenterCrop',
    'LoadImageFromFile',
    'PackInputs',
    'RandomFlip',
    'RandomResizedCrop',
    'Resize',
    'pil_to_rgb_array',
    'ImageCaptionManifest',
    'PromptCaptions',
    'fill_template',
    'BPETokenizer',
    'ByteTokenizer',
    'build_tokenizer',
    'OpenCLIPTokenizer',
    'TokenizeText',
    'WebDatasetShards',
    'WebDatasetStream',
    'ColorQuantize',
    'load_palette',
    'tokens_to_rgb',
    'ColorJitter',
    'GaussianBlur',
    'MultiView',
    'RandomGrayscale',
    'Solarize',
    'LoadRandomResizedCrop',
    'ResumableSampler'
]
