"""Captions of image files from a trained captioner, and a picture of the
images with their captions (``tools/analysis/caption.py``)."""
import io
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from pixpretrain.datasets.tokenizers import build_tokenizer
from pixpretrain.evaluation.metrics.caption import decode_caption
from pixpretrain.registry import MODELS, register_all_modules
from pixpretrain.utils.errors import (ConfigError, PathNotFoundError,
                                      UnreadableImageError)
from pixpretrain.utils.fileio import atomic_write
from .inference import check_pixels, init_model

PANEL = 128  # pixels of each image in the picture
LINE_HEIGHT = 12
CHARS_PER_LINE = 20


def load_images(paths: Sequence[str],
                size: Tuple[int, int]) -> torch.Tensor:
    """Image files -> (B, 3, H, W) uint8 RGB at ``size`` = (H, W), resized
    bicubically (the model's input size)."""
    arrays = []
    for path in paths:
        if not osp.isfile(path):
            raise PathNotFoundError(f'{path}: no such image file; give paths '
                                    'of PNG or JPEG files')
        try:
            with Image.open(path) as image:
                image = image.convert('RGB').resize((size[1], size[0]),
                                                    Image.BICUBIC)
        except (UnidentifiedImageError, OSError) as exc:
            raise UnreadableImageError(f'{path}: not a readable image '
                                       f'({exc})') from None
        arrays.append(np.asarray(image))
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)


def config_tokenizer(cfg: Config):
    """The tokenizer the config trains with (its top-level ``tokenizer``)."""
    if 'tokenizer' not in cfg:
        raise ConfigError('the config has no top-level `tokenizer` to decode '
                          'captions with; add e.g. tokenizer = dict(type='
                          "'ByteTokenizer', context_length=48)")
    return build_tokenizer(cfg.tokenizer)


def load_captioner(cfg: Config, checkpoint: str,
                   device: str = 'cpu') -> torch.nn.Module:
    """The config's captioner with the checkpoint's weights, in eval mode;
    one-line errors for a model that cannot caption, a missing checkpoint
    or one of another model."""
    register_all_modules()
    model_class = MODELS.get(cfg.model.type)
    if not hasattr(model_class, 'generate'):
        raise ConfigError(f'model.type={cfg.model.type} does not generate '
                          'captions; give an ImageCaptioner config')
    if not osp.isfile(checkpoint):
        raise PathNotFoundError(f'{checkpoint}: no such checkpoint; give '
                                'the .pth file training wrote')
    return init_model(cfg, checkpoint, device)


@torch.no_grad()
def caption_images(model: torch.nn.Module, images: torch.Tensor,
                   tokenizer, beam_size: int = 1) -> List[str]:
    """(B, 3, H, W) uint8 images -> one generated caption each.

    Args:
        model: A captioner with ``generate`` (:class:`ImageCaptioner`).
        images: Pixels on the 0-255 scale at the model's input size.
        tokenizer: Decodes the generated ids.
        beam_size: 1 for greedy decoding, more for beam search.
    """
    if not hasattr(model, 'generate'):
        raise ConfigError(f'{type(model).__name__} does not generate '
                          'captions; give an ImageCaptioner config')
    check_pixels(images, 'caption_images')
    device = next(model.parameters()).device
    inputs = model.data_preprocessor(dict(inputs=images.to(device)),
                                     training=False)['inputs']
    return [decode_caption(row, tokenizer)
            for row in model.generate(inputs, beam_size=beam_size).tolist()]


def _wrap(text: str) -> List[str]:
    lines, line = [], ''
    for word in text.split():
        if line and len(line) + 1 + len(word) > CHARS_PER_LINE:
            lines.append(line)
            line = word
        else:
            line = f'{line} {word}'.strip()
    return lines + [line] if line else lines


def caption_grid(images: torch.Tensor, captions: Sequence[str],
                 columns: int = 4) -> Image.Image:
    """Each image enlarged to ``PANEL`` pixels with its caption below, in
    rows of ``columns``."""
    wrapped = [_wrap(c)[:3] for c in captions]
    cell_h = PANEL + 4 + 3 * LINE_HEIGHT
    rows = (len(captions) + columns - 1) // columns
    sheet = Image.new('RGB', (columns * (PANEL + 8), rows * (cell_h + 8)),
                      'white')
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=LINE_HEIGHT - 1)
    for i, (image, lines) in enumerate(zip(images, wrapped)):
        x, y = (i % columns) * (PANEL + 8) + 4, (i // columns) * (cell_h +
                                                                  8) + 4
        panel = Image.fromarray(image.permute(1, 2, 0).numpy()).resize(
            (PANEL, PANEL), Image.NEAREST)
        sheet.paste(panel, (x, y))
        for j, line in enumerate(lines):
            draw.text((x, y + PANEL + 2 + j * LINE_HEIGHT), line,
                      fill='black', font=font)
    return sheet


def save_picture(picture: Image.Image, path: str) -> None:
    """Write ``picture`` as PNG, atomically."""
    buffer = io.BytesIO()
    picture.save(buffer, format='PNG')
    atomic_write(buffer.getvalue(), path)
