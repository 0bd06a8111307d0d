"""What a config's training pipeline gives the model, as one picture
(``tools/analysis/browse_dataset.py``).

One row per image, through the data preprocessor and back (its
normalisation undone), so the picture shows what the model sees: every view
of a multi-view pipeline side by side (MoCo); the crop and the crop with
the model's own random mask greyed where the mask is drawn in the model
(MAE); palette tokens decoded to colours (iGPT); the caption under each
image (CLIP).
"""
import textwrap
from typing import Any, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from PIL import Image, ImageDraw

from pixpretrain.datasets.transforms.color_quantize import tokens_to_rgb
from pixpretrain.models.utils import patchify, random_masking, unpatchify
from pixpretrain.models.utils.pictures import tile
from pixpretrain.registry import DATASETS, MODELS, register_all_modules
from pixpretrain.utils.errors import ConfigError

GAP = 2  # white pixels between panels and rows (before scaling)


def _hwc(images: torch.Tensor) -> List[np.ndarray]:
    """(B, C, H, W) uint8 -> B arrays (H, W, 3) (grey repeated to RGB)."""
    arrays = images.permute(0, 2, 3, 1).cpu().numpy()
    return [np.repeat(a, 3, axis=-1) if a.shape[-1] == 1 else a
            for a in arrays]


def _transform(dataset, kind: str) -> Optional[Any]:
    """The first transform of ``dataset``'s pipeline whose class name
    contains ``kind``."""
    for transform in getattr(getattr(dataset, 'pipeline', None),
                             'transforms', []):
        if kind in type(transform).__name__:
            return transform
    return None


def mae_masked(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The crops with the patches the model's masking removes set to the
    preprocessor's mean (grey once denormalised).

    The mask comes from the masking MAE trains with (``random_masking`` at
    the model's ``mask_ratio`` over the backbone's patch embedding), drawn
    from torch's random stream, so a seed fixes it.

    Args:
        model: An MAE-style model (``mask_ratio``, ``backbone.embed``).
        inputs: (B, C, H, W) normalised crops.

    Returns:
        (B, C, H, W) normalised crops, removed patches zero.
    """
    p, grid = model.backbone.patch_size, model.backbone.grid
    _, mask, _ = random_masking(model.backbone.embed(inputs),
                                model.mask_ratio)
    patches = patchify(inputs, p) * (1 - mask[..., None])
    return unpatchify(patches, p, grid, inputs.shape[1])


def _caption_panel(image: np.ndarray, text: str, scale: int) -> np.ndarray:
    """``image`` scaled, with ``text`` wrapped on white below it."""
    picture = Image.fromarray(image).resize(
        (image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    lines = textwrap.wrap(text, max(8, picture.width // 6)) or ['']
    canvas = Image.new('RGB', (picture.width, picture.height +
                               12 * len(lines) + 4), 'white')
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((2, picture.height + 2 + 12 * i), line, fill='black')
    return np.asarray(canvas)


def browse_picture(cfg: Config, num_images: int = 8, scale: int = 4,
                   seed: int = 0) -> np.ndarray:
    """Draw the first ``num_images`` samples of the training pipeline.

    Args:
        cfg: The loaded config.
        num_images: Rows of the picture.
        scale: Nearest-neighbour upscaling of the panels.
        seed: Seed of numpy's and torch's random streams (crops, masks).

    Returns:
        (H', W', 3) uint8 picture: ``num_images`` rows of panels separated
        by white lines.

    Raises:
        ConfigError: The config has no training data set, or a pipeline
            output that cannot be drawn.
    """
    register_all_modules()
    dataset_cfg = (cfg.get('train_dataloader') or {}).get('dataset')
    if dataset_cfg is None:
        raise ConfigError('the config has no train_dataloader.dataset to '
                          'browse; browse a training config')
    np.random.seed(seed)
    torch.manual_seed(seed)
    dataset = DATASETS.build(dataset_cfg)
    count = min(num_images, len(dataset))
    batch = default_collate([dataset[i] for i in range(count)])
    model = MODELS.build(cfg.model).eval()
    preprocessor = model.data_preprocessor
    with torch.no_grad():
        data = preprocessor(batch, False)
    inputs, samples = data['inputs'], data.get('data_samples') or []
    if isinstance(inputs, torch.Tensor) and inputs.dtype == torch.long:
        quantize = _transform(dataset, 'ColorQuantize')
        palette = getattr(quantize, 'palette', None)
        if palette is None:
            raise ConfigError('the pipeline gives tokens but has no '
                              'ColorQuantize with a palette to decode them')
        rows = [[tokens_to_rgb(t.cpu().numpy(), palette)] for t in inputs]
        return tile(rows, gap=GAP, scale=scale)
    views = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    if not all(isinstance(v, torch.Tensor) and v.ndim == 4 for v in views):
        raise ConfigError('the training pipeline gives inputs that are not '
                          'images (B, C, H, W) or a list of views of them; '
                          'nothing to draw')
    columns = [_hwc(preprocessor.denormalize(v)) for v in views]
    if hasattr(model, 'mask_ratio') and hasattr(model.backbone, 'embed'):
        with torch.no_grad():
            masked = mae_masked(model, views[0])
        columns.append(_hwc(preprocessor.denormalize(masked)))
    tokenizer = getattr(_transform(dataset, 'TokenizeText'), 'tokenizer',
                        None)
    if tokenizer is not None and samples and 'text_tokens' in samples[0]:
        rows = [[_caption_panel(columns[0][i],
                                tokenizer.decode(s.text_tokens), scale)]
                for i, s in enumerate(samples)]
        return tile(rows, gap=GAP * scale)
    rows = [[column[i] for column in columns] for i in range(count)]
    return tile(rows, gap=GAP, scale=scale)
