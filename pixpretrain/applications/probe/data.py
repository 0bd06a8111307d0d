"""The labelled train / test splits a probe reads, by preset name."""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

from torch.utils.data import Dataset, Subset

from pixpretrain.datasets import (CenterCrop, ColorQuantize,
                                  LoadImageFromFile, PackInputs, Resize)
from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import (DATA_DOCS, ConfigError,
                                      DataRootNotFoundError)
from .sources import (FOLDER_LAYOUT, LabelledSplits, config_splits,
                      folder_splits)


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


def resolve_data(data: str, data_root: Optional[str]
                 ) -> Tuple[ProbeData, Optional[str], dict]:
    """What ``data`` names: a preset, a labelled image folder, or a config
    file's data sets.

    Returns:
        How to build the splits, the data root, and what the description
        (and so the cache key) records beyond name and root.
    """
    if data in PRESETS:
        return PRESETS[data], data_root or PRESETS[data].default_root, {}
    if data.endswith('.py'):
        train, test, from_files = config_splits(data)
        preset = ProbeData(train['type'], None, train, test,
                           from_files=from_files)
        return preset, None, dict(datasets=dict(train=train, test=test))
    if osp.isdir(data):
        train, test = folder_splits(data)
        return ProbeData('ImageFolder', data, train, test,
                         from_files=True), data, {}
    raise ConfigError(
        f'unknown probe data {data!r}: give a preset '
        f'({", ".join(sorted(PRESETS))}), a labelled image folder '
        f'({FOLDER_LAYOUT}), or a config file (.py) with train_dataloader '
        'and test_dataloader data sets')


def build_probe_splits(
        name: Union[str, LabelledSplits],
        img_size: Sequence[int],
        data_root: Optional[str] = None,
        train_samples: Optional[int] = None,
        test_samples: Optional[int] = None,
        quantize: Optional[dict] = None,
        crop_ratio: Optional[float] = None
) -> Tuple[Dataset, Dataset, dict]:
    """The train and test splits of the probe's data, and a description.

    Args:
        name: A key of :data:`PRESETS`, a labelled image folder, a config
            file (see :func:`resolve_data`), or splits from the caller.
        img_size: (h, w) the model takes.
        data_root: Overrides the preset's default root.
        train_samples: Keep this many evenly spaced training images.
        test_samples: Keep this many evenly spaced test images.
        quantize: ``ColorQuantize`` arguments for token models (iGPT).
        crop_ratio: The evaluation crop (see :class:`ProbeData`); None
            keeps the preset's (1, a plain resize, for folders and
            configs). Not used for splits from the caller.

    Returns:
        train set, test set, and a dict naming the data, root, subsets and
        transforms (part of the feature cache key, and of the report).
    """
    if isinstance(name, LabelledSplits):
        description = dict(name=name.name, root=None, cache_id=name.cache_id,
                           transform=['as given'],
                           num_classes=name.num_classes)
        given = (('train', name.train, train_samples),
                 ('test', name.test, test_samples))
    else:
        preset, root, extra = resolve_data(name, data_root)
        if crop_ratio is not None and not 0.0 < crop_ratio <= 1.0:
            raise ConfigError(f'crop_ratio must lie in (0, 1], got '
                              f'{crop_ratio}')
        ratio = preset.crop_ratio if crop_ratio is None else crop_ratio
        pipeline = eval_pipeline(img_size, ratio, preset.from_files,
                                 quantize)
        location = {} if root is None else dict(
            data_root=osp.abspath(osp.expanduser(root)))
        description = dict(name=name, root=location.get('data_root'),
                           transform=[repr(step) for step in pipeline],
                           **extra)
        given = [(split, build_split(name, preset, kwargs, pipeline,
                                     location), count)
                 for split, kwargs, count in (
                     ('train', preset.train, train_samples),
                     ('test', preset.test, test_samples))]
        classes = given[0][1].metainfo.get('classes')
        if not classes:
            raise ConfigError(
                f"probe data '{name}' names no classes: a probe needs a "
                'labelled data set (an ImageFolder with with_label=True and '
                'class folders)')
        description['num_classes'] = len(classes)
    splits = []
    for split, dataset, count in given:
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


def build_split(name: str, preset: ProbeData, kwargs: dict,
                pipeline: List[Callable], location: dict) -> Dataset:
    """One split's data set, with the probe's pipeline."""
    missing = None
    try:
        return DATASETS.build({**dict(type=preset.dataset_type),
                               **location, **kwargs, 'pipeline': pipeline})
    except DataRootNotFoundError as exc:
        if not location:
            raise
        missing = missing_data_message(name, location['data_root'], exc)
    # Raised outside the `except`: the one-line error shows the innermost
    # pixpretrain error it finds, which must be this one.
    raise DataRootNotFoundError(missing)
