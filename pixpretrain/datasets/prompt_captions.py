"""Captions made from class labels: prompt templates, and a labelled data
set seen through them (:class:`PromptCaptions`).

Samples carry ``captions``, a list of one or more strings for the image;
:class:`TokenizeText` picks one per fetch.
"""
from functools import partial
from typing import Callable, Iterator, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, Compose
from torch.utils.data import Dataset

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError

from .bad_images import BadImageBudget
from .base import build_pipeline


def fill_template(template: str, class_name: str) -> str:
    """``'a photo of a {}.'`` or ``'a photo of a {class}.'`` with a name."""
    return template.format(class_name, **{'class': class_name})


def check_templates(templates: Sequence[str]) -> List[str]:
    """Templates as a list, each with one class-name field."""
    if isinstance(templates, str) or not templates:
        raise ConfigError('templates must be a non-empty list of strings '
                          f"such as ['a photo of a {{}}.'], got {templates!r}")
    for template in templates:
        try:
            filled = fill_template(template, '\0')
        except (IndexError, KeyError, ValueError) as exc:
            raise ConfigError(
                f'template {template!r} must hold one {{}} (or {{class}}) '
                f'field and no other: {exc!r}') from None
        if '\0' not in filled:
            raise ConfigError(f'template {template!r} has no {{}} field for '
                              'the class name')
    return list(templates)


def check_class_names(class_names: Sequence[str]) -> List[str]:
    """Class names as a non-empty list of str, in label order."""
    if isinstance(class_names, (str, bytes)) or not isinstance(
            class_names, Sequence) or not class_names:
        raise ConfigError(
            f'class_names = {class_names!r:.60}: pass a non-empty list of '
            "names in label order, e.g. ['cat', 'dog'] (a str would be "
            'read as one class per character)')
    for index, name in enumerate(class_names):
        if not isinstance(name, str):
            raise ConfigError(f'class_names[{index}] = {name!r:.40} is a '
                              f'{type(name).__name__}, not a str')
    return list(class_names)


def readable_class_name(name: str) -> str:
    """Folder names to words: ``'horizontal_stripes'`` -> ``'horizontal
    stripes'``."""
    return name.replace('_', ' ')


def metric_class_names(class_names: Optional[Sequence[str]],
                       dataset_meta: Optional[dict], metric: str) -> List[str]:
    """The class names a text metric reads: ``class_names`` when given,
    else the data set's ``metainfo['classes']`` made readable.

    Args:
        class_names: The metric's own list, or None.
        dataset_meta: The evaluator's ``dataset_meta``.
        metric: The metric's name, for the error.

    Raises:
        ConfigError: Neither is there.
    """
    if class_names:
        return list(class_names)
    classes = (dataset_meta or {}).get('classes')
    if not classes:
        raise ConfigError(
            f'{metric} needs class_names, or a validation data set with '
            "metainfo['classes']")
    return [readable_class_name(c) for c in classes]


@DATASETS.register_module()
class PromptCaptions(Dataset):
    """A labelled image data set seen through captions made from its labels.

    Sample ``i`` is the wrapped data set's sample ``i`` (before that data
    set's own pipeline) with ``captions`` = every template filled with the
    sample's class name, so CIFAR-10's cat becomes "a photo of a cat.",
    "a blurry photo of a cat.", ... (CLIP's prompt engineering, used here to
    train rather than to evaluate).

    Args:
        dataset: Config or instance of a labelled data set (``gt_label`` and
            ``metainfo['classes']``), e.g. ``CIFAR10``, ``ImageFolder``.
        templates: Caption templates with a ``{}`` (or ``{class}``) field.
        class_names: Names used in captions, one per class, in label order;
            defaults to the data set's classes with '_' read as spaces.
        pipeline: Transforms applied to the captioned sample.
        max_refetch, max_bad_fraction: As :class:`ImageCaptionManifest`
            (retries, and the tolerated fraction of unreadable images).
    """

    def __init__(self,
                 dataset: Union[dict, Dataset],
                 templates: Sequence[str] = ('a photo of a {}.', ),
                 class_names: Optional[Sequence[str]] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 max_refetch: int = 1000,
                 max_bad_fraction: float = 0.01) -> None:
        self.bad_images = BadImageBudget(max_bad_fraction)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) \
            else dataset
        self.templates = check_templates(templates)
        self._class_names = list(class_names) if class_names else None
        self.pipeline = Compose(build_pipeline(pipeline))
        self.max_refetch = max_refetch
        self._captions: Optional[List[List[str]]] = None

    def full_init(self) -> None:
        """Initialise the wrapped data set and fill the templates."""
        if self._captions is not None:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        classes = self.dataset.metainfo.get('classes')
        if not classes:
            raise ConfigError(
                f'PromptCaptions needs a labelled data set with '
                f"metainfo['classes']; {type(self.dataset).__name__} has none")
        names = self._class_names or [readable_class_name(c) for c in classes]
        if len(names) != len(classes):
            raise ConfigError(
                f'class_names lists {len(names)} names but the data set has '
                f'{len(classes)} classes')
        self._class_names = names
        self._captions = [[fill_template(t, name) for t in self.templates]
                          for name in names]

    @property
    def metainfo(self) -> dict:
        """The wrapped data set's metainfo plus ``templates`` and
        ``class_names``."""
        self.full_init()
        return dict(self.dataset.metainfo, templates=list(self.templates),
                    class_names=list(self._class_names))

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset)

    def get_data_info(self, index: int) -> dict:
        """The wrapped sample's info with ``captions`` added."""
        self.full_init()
        info = self.dataset.get_data_info(index)
        label = info.get('gt_label')
        if label is None:
            raise ConfigError(f'sample {index} of '
                              f'{type(self.dataset).__name__} has no '
                              'gt_label; PromptCaptions needs labels')
        info['captions'] = list(self._captions[int(label)])
        return info

    def _prepare(self, index: int) -> Optional[dict]:
        return self.pipeline(self.get_data_info(index))

    def __getitem__(self, index: int) -> dict:
        """The captioned sample through the pipeline; an unreadable image is
        replaced by another sample (see ``max_bad_fraction``)."""
        return self.bad_images.fetch(self._prepare, index, len(self),
                                     self.max_refetch)

    def iter_captions(self) -> Iterator[str]:
        """Every sample's captions, without reading images."""
        self.full_init()
        # mmengine's own get_data_info skips the image decoding that CIFAR10
        # and SyntheticShapes add to theirs.
        read = (partial(BaseDataset.get_data_info, self.dataset)
                if isinstance(self.dataset, BaseDataset) else
                self.dataset.get_data_info)
        for index in range(len(self.dataset)):
            yield from self._captions[int(read(index)['gt_label'])]
