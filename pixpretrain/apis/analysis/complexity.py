"""Parameters and FLOPs of a config's model (``tools/analysis/get_flops.py``).

Parameters are counted per top-level part (backbone, neck, head, CLIP's
text backbone, MoCo's momentum copies ...), all and trainable. FLOPs are
those of one image through the model's inference path, counted by the same
``FlopCounterMode`` set-up as the training benchmark
(:func:`.flops.flop_counter`): a classifier's backbone and head
(``predict``), a pretrainer's backbone on a whole, unmasked image
(``extract_feat``: what fine-tuning and feature extraction run). A
multiply-add is 2 FLOPs; element-wise operations (norms, activations,
softmax) are not counted, as in fvcore and mmengine. mmpretrain's
``get_flops`` prints multiply-adds (MACs), half these FLOPs.
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from pixpretrain.apis.config_checks.readers import pipeline_step_dicts
from pixpretrain.utils.errors import ConfigError
from .flops import flop_counter


def count_parameters(model: torch.nn.Module) -> Dict[str, Dict[str, int]]:
    """Parameters per top-level part and in total.

    Args:
        model: The built model.

    Returns:
        ``{part: {'total': n, 'trainable': n}}`` for every child module
        holding parameters, plus ``'total'`` for the whole model (a shared
        tensor counted once).
    """
    parts = {}
    for name, child in model.named_children():
        params = list(child.parameters())
        if params:
            parts[name] = _counts(params)
    parts['total'] = _counts(list(model.parameters()))
    return parts


def _counts(params) -> Dict[str, int]:
    return dict(total=sum(p.numel() for p in params),
                trainable=sum(p.numel() for p in params if p.requires_grad))


def pipeline_crop_size(cfg: Config) -> Optional[Tuple[int, int]]:
    """The ``size`` of the first crop or resize in the training pipeline
    (inside ``MultiView`` too): what a ResNet, which fixes no size, is fed.

    Args:
        cfg: The loaded config.
    """
    loader = cfg.get('train_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline')
    for step in pipeline_step_dicts(pipeline):
        if 'Crop' in str(step.get('type')) or step.get('type') == 'Resize':
            size = step.get('size')
            if isinstance(size, int):
                return size, size
            if isinstance(size, (list, tuple)) and len(size) == 2:
                return tuple(size)
    return None


def example_input(model: torch.nn.Module,
                  shape: Optional[Sequence[int]] = None) -> torch.Tensor:
    """One input the backbone takes: palette tokens (1, S, S) for a pixel
    transformer (iGPT), else an image (1, C, H, W).

    Args:
        model: The built model.
        shape: (H, W) asked for; default the backbone's ``img_size``, else
            224.

    Raises:
        ConfigError: ``shape`` differs from a backbone's fixed
            ``img_size`` (a ViT's position embedding fixes it).
    """
    backbone = model.backbone
    size = getattr(backbone, 'img_size', None)
    fixed = None if size is None else tuple(
        (size, size) if isinstance(size, int) else size)
    if shape is not None and min(shape) < 1:
        raise ConfigError(f'--shape {shape[0]} {shape[1]}: height and width '
                          'must be 1 or more (e.g. --shape 224 224)')
    if shape is not None and fixed is not None and tuple(shape) != fixed:
        raise ConfigError(
            f'--shape {shape[0]} {shape[1]} differs from the backbone\'s '
            f'img_size {fixed}; drop --shape, or pass --cfg-options '
            f'model.backbone.img_size={shape[0]} (and the same for the '
            'neck, where it has one)')
    height, width = shape or fixed or (224, 224)
    if hasattr(backbone, 'num_colors'):
        return torch.randint(backbone.num_colors, (1, height, width))
    channels = getattr(backbone, 'in_channels', 3)
    return torch.randn(1, channels, height, width)


def count_inference_flops(model: torch.nn.Module, inputs: torch.Tensor
                          ) -> Tuple[float, Dict[str, float], str]:
    """FLOPs of one image through the model's inference path.

    Args:
        model: The built model, in eval mode.
        inputs: One preprocessed input, batch size 1.

    Returns:
        (total, per top-level part, what was run).
    """
    is_classifier = hasattr(model, 'features') and hasattr(
        getattr(model, 'head', None), 'predict')
    with torch.no_grad(), flop_counter(model) as counter:
        if is_classifier:
            model.head.predict(*model.features(inputs))
            path = 'backbone + head (predict)'
        else:
            model.extract_feat(inputs)
            path = 'backbone on the whole image (extract_feat)'
    # The counter names modules from the outermost one called (a part, or
    # a piece of one where the model calls a part's methods directly, as
    # iGPT calls backbone.embed): map each such class to its part.
    owner = {}
    for part, child in model.named_children():
        for module in child.modules():
            owner.setdefault(type(module).__name__, part)
    per_part: Dict[str, float] = {}
    for name, ops in counter.get_flop_counts().items():
        if '.' in name or name == 'Global':
            continue
        part = owner.get(name, 'other')
        per_part[part] = per_part.get(part, 0.0) + float(sum(ops.values()))
    return float(counter.get_total_flops()), per_part, path


def model_complexity(cfg: Config,
                     shape: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    """Build the config's model and measure it.

    Args:
        cfg: The loaded config.
        shape: (H, W) of the image; default the backbone's ``img_size``,
            else the training pipeline's crop (:func:`pipeline_crop_size`),
            else 224.

    Returns:
        dict: ``model`` (class), ``input`` (shape), ``params`` (see
        :func:`count_parameters`), ``flops`` and ``macs`` per image,
        ``flops_per_part``, ``counted`` (the forward that was run).

    Raises:
        ConfigError: The model has no backbone to count, or ``shape`` does
            not fit it.
    """
    from pixpretrain.registry import MODELS, register_all_modules
    register_all_modules()
    model = MODELS.build(cfg.model)
    model.eval()
    if getattr(model, 'backbone', None) is None:
        raise ConfigError(
            f'{type(model).__name__} has no backbone: get_flops counts a '
            'backbone -> neck -> head model')
    fixed = getattr(model.backbone, 'img_size', None)
    inputs = example_input(
        model, shape or (None if fixed else pipeline_crop_size(cfg)))
    flops, per_part, path = count_inference_flops(model, inputs)
    return dict(model=type(model).__name__, input=list(inputs.shape),
                params=count_parameters(model), flops=flops,
                macs=flops / 2, flops_per_part=per_part, counted=path)
