"""The labelled train / test splits a probe reads, by preset name."""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from torch.utils.data import Dataset, Subset

from pixpretrain.datasets import (CenterCrop, ColorQuantize,
                                  LoadImageFromFile, PackInputs, Resize)
from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import (DATA_DOCS, ConfigError,
                                      DataRootNotFoundError)


@dataclass(frozen=True)
class ProbeData:
    """How to build a preset's two splits.

    Args:
        dataset_type: Registered data set class.
        default_root: Data root when none is given (the configs' default);
            None for data generated in code.
        train: Keyword arguments selecting the training split.
        test: Keyword arguments selecting the test split.
        crop_ratio: Evaluation crop: 1 resizes straight to the model's
            input size; below 1 resizes the shorter side to
            ``size / crop_ratio`` and centre-crops (ImageNet's 0.875).
        from_files: The data set yields paths, not decoded images.
    """
    dataset_type: str
    default_root: Optional[str]
    train: dict
    test: dict
    crop_ratio: float = 1.0
    from_files: bool = False


PRESETS = {
    'cifar10': ProbeData('CIFAR10', 'data/cifar10', dict(split='train'),
                         dict(split='test')),
    'cifar100': ProbeData('CIFAR100', 'data/cifar100', dict(split='train'),
                          dict(split='test')),
    'imagenet': ProbeData('ImageFolder', 'data/imagenet',
                          dict(data_prefix='train', with_label=True),
                          dict(data_prefix='val', with_label=True),
                          crop_ratio=0.875, from_files=True),
    # Generated in code: demos and tests probe with nothing downloaded.
    'shapes': ProbeData('SyntheticShapes', None,
                        dict(split='train', num_samples=2000),
                        dict(split='test', num_samples=500)),
}


def describe_presets() -> str:
    """The preset names for ``--help``, those generated in code marked.

    Returns:
        str: e.g. ``cifar10, cifar100, imagenet or shapes (generated in
        code, nothing to download)``.
    """
    names = [name + (' (generated in code, nothing to download)'
                     if preset.default_root is None else '')
             for name, preset in PRESETS.items()]
    return ', '.join(names[:-1]) + ' or ' + names[-1]


def missing_data_message(name: str, root: str, error: Exception) -> str:
    """The probe's own advice for data it cannot find.

    The data set's message suggests its ``download=True``, which the probe
    does not offer: the probe's fix is its data root.

    Args:
        name: The preset.
        root: The root the probe looked in (absolute).
        error: The data set's error; its first clause says what is missing.

    Returns:
        str: One line for the user.
    """
    what = str(error).split(';')[0]
    return (f"{what}; the probe's {name!r} data is read from '{root}': "
            'point it at your copy with --data-root DIR (data_root of '
            f'ProbeSettings), and see {DATA_DOCS} to fetch and lay it out')


def evenly_spaced_indices(total: int, count: Optional[int]) -> List[int]:
    """``count`` indices spread evenly over ``range(total)`` (all when
    ``count`` is None). Data sets listed class by class keep their class
    balance; ``list(range(0, total, total // count))`` in a config gives
    the same subset when ``count`` divides ``total``."""
    if count is None or count >= total:
        return list(range(total))
    if count < 1:
        raise ConfigError(f'a subset needs at least 1 sample, got {count}')
    return [i * total // count for i in range(count)]


def eval_pipeline(img_size: Sequence[int], crop_ratio: float = 1.0,
                  from_files: bool = False,
                  quantize: Optional[dict] = None) -> List[Callable]:
    """Deterministic transforms to the model's input size, then packing.

    With ``quantize`` (the keyword arguments of a ``ColorQuantize``, as an
    iGPT config's pipeline has it) the images become palette tokens.
    """
    height, width = img_size
    steps: List[Callable] = [LoadImageFromFile()] if from_files else []
    if crop_ratio < 1.0:
        steps += [
            Resize(int(round(min(height, width) / crop_ratio)),
                   interpolation='bicubic'),
            CenterCrop((height, width))
        ]
    elif quantize is None:  # ColorQuantize resizes to its grid itself
        steps.append(Resize((height, width), interpolation='bicubic'))
    if quantize is None:
        return steps + [PackInputs()]
    quantize = {k: v for k, v in quantize.items() if k != 'type'}
    return steps + [ColorQuantize(**quantize), PackInputs(inputs_key='tokens')]


def build_probe_splits(
        name: str,
        img_size: Sequence[int],
        data_root: Optional[str] = None,
        train_samples: Optional[int] = None,
        test_samples: Optional[int] = None,
        quantize: Optional[dict] = None
) -> Tuple[Dataset, Dataset, dict]:
    """The train and test splits of a preset, and a description of them.

    Args:
        name: A key of :data:`PRESETS`.
        img_size: (h, w) the model takes.
        data_root: Overrides the preset's default root.
        train_samples: Keep this many evenly spaced training images.
        test_samples: Keep this many evenly spaced test images.
        quantize: ``ColorQuantize`` arguments for token models (iGPT).

    Returns:
        train set, test set, and a dict naming the data, root, subsets and
        transforms (part of the feature cache key, and of the report).
    """
    if name not in PRESETS:
        raise ConfigError(
            f'unknown probe data {name!r}; choose one of {sorted(PRESETS)}')
    preset = PRESETS[name]
    root = data_root or preset.default_root
    location = {} if root is None else dict(
        data_root=osp.abspath(osp.expanduser(root)))
    pipeline = eval_pipeline(img_size, preset.crop_ratio, preset.from_files,
                             quantize)
    splits = []
    description = dict(name=name, root=location.get('data_root'),
                       transform=[repr(step) for step in pipeline])
    for split, kwargs, count in (('train', preset.train, train_samples),
                                 ('test', preset.test, test_samples)):
        missing = None
        try:
            dataset = DATASETS.build(
                dict(type=preset.dataset_type, pipeline=pipeline,
                     **location, **kwargs))
        except DataRootNotFoundError as exc:
            missing = missing_data_message(name, location['data_root'], exc)
        if missing is not None:
            # Raised outside the `except`: the one-line error shows the
            # innermost pixpretrain error it finds, which must be this one.
            raise DataRootNotFoundError(missing)
        if split == 'train':
            description['num_classes'] = len(dataset.metainfo['classes'])
        total = len(dataset)
        indices = evenly_spaced_indices(total, count)
        if len(indices) < total:
            # Not BaseDataset.get_subset: its deepcopy shares a memo dict
            # between calls (mmengine 0.10.7), which can hand a new subset
            # a stale object in place of its pipeline.
            dataset = Subset(dataset, indices)
        description[split] = dict(total=total, used=len(indices))
        splits.append(dataset)
    return splits[0], splits[1], description
