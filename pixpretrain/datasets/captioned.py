"""Image-caption data sets: a manifest file, or prompts from class labels.

Samples carry ``captions``, a list of one or more strings for the image;
:class:`TokenizeText` picks one per fetch.
"""
import csv
import json
import os
from functools import partial
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Union)

from mmengine.dataset import BaseDataset, Compose
from torch.utils.data import Dataset

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .bad_images import BadImageBudget
from .base import DATA_DOCS, ImageDataset, build_pipeline


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


def readable_class_name(name: str) -> str:
    """Folder names to words: ``'horizontal_stripes'`` -> ``'horizontal
    stripes'``."""
    return name.replace('_', ' ')


@DATASETS.register_module()
class ImageCaptionManifest(ImageDataset):
    """Images and captions listed in a JSON-lines or CSV file.

    JSON lines (``.jsonl``), one object per line::

        {"image": "img/0001.jpg", "caption": "a dog on a beach"}
        {"image": "img/0002.jpg", "caption": ["two cats", "cats on a sofa"]}

    CSV (``.csv``, or ``.tsv`` tab-separated) with a header row naming the
    columns::

        image,caption
        img/0001.jpg,a dog on a beach

    An image listed on several lines gathers all their captions (COCO has
    five per image). Image paths are relative to ``data_root``.

    Args:
        ann_file: The manifest; relative to ``data_root`` unless absolute.
        data_root: Folder the image paths start from; defaults to the
            manifest's folder.
        image_key: Field (column) holding the image path.
        caption_key: Field holding the caption (a string, or in JSON a list
            of strings).
        pipeline: Transforms; should start with ``LoadImageFromFile``.
        indices: Keep only these samples (an int keeps the first ones).
        serialize_data: Pack the sample list into one numpy buffer so
            dataloader workers share it.
        test_mode: mmengine's test mode (no refetch on failure).
        lazy_init: Defer reading the manifest until first use.
        max_refetch: Retries with another sample when an image is unreadable
            or the pipeline returns None.
        max_bad_fraction: Unreadable images are skipped with a warning; the
            run stops once they exceed this fraction, in [0, 1] (see
            :class:`BadImageBudget`).
    """

    def __init__(self,
                 ann_file: str,
                 data_root: Optional[str] = None,
                 image_key: str = 'image',
                 caption_key: str = 'caption',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 max_bad_fraction: float = 0.01) -> None:
        ann_file = os.path.expanduser(ann_file)
        if data_root is not None:
            data_root = os.path.expanduser(data_root)
            if not os.path.isabs(ann_file):
                ann_file = os.path.join(data_root, ann_file)
        if not os.path.isfile(ann_file):
            raise DataRootNotFoundError(
                f"caption manifest '{ann_file}' does not exist; see "
                f'{DATA_DOCS} and docs/clip.md for its format')
        if data_root is None:
            data_root = os.path.dirname(os.path.abspath(ann_file))
        if os.path.splitext(ann_file)[1].lower() not in ('.jsonl', '.csv',
                                                          '.tsv'):
            raise ConfigError(f"caption manifest '{ann_file}' must end in "
                              '.jsonl, .csv or .tsv')
        self.image_key = image_key
        self.caption_key = caption_key
        # The shared arguments, in ImageDataset's order.
        super().__init__(pipeline, indices, serialize_data, test_mode,
                         lazy_init, max_refetch, max_bad_fraction, ann_file=ann_file,
                         data_root=data_root)

    def _rows(self) -> Iterator[tuple]:
        """(line number, image path, caption or list of captions)."""
        ext = os.path.splitext(self.ann_file)[1].lower()
        with open(self.ann_file, encoding='utf-8', newline='') as f:
            if ext == '.jsonl':
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f'{self.ann_file}:{lineno}: not '
                                          f'JSON ({exc.msg})') from None
                    yield lineno, row
            else:
                reader = csv.DictReader(
                    f, delimiter='\t' if ext == '.tsv' else ',')
                # Line 1 is the header.
                for lineno, row in enumerate(reader, 2):
                    yield lineno, row

    def load_data_list(self) -> List[dict]:
        """Read the manifest (called once by ``full_init``).

        Returns:
            list[dict]: ``img_path`` and ``captions`` (list of str) per
            image, in order of first appearance.
        """
        by_image: Dict[str, List[str]] = {}
        for lineno, row in self._rows():
            where = f'{self.ann_file}:{lineno}'
            if not isinstance(row, dict) or self.image_key not in row \
                    or self.caption_key not in row:
                raise ConfigError(
                    f"{where}: needs the fields '{self.image_key}' and "
                    f"'{self.caption_key}' (image_key / caption_key)")
            path, captions = row[self.image_key], row[self.caption_key]
            if isinstance(captions, str):
                captions = [captions]
            captions = [c.strip() for c in captions
                        if isinstance(c, str) and c.strip()]
            if not path or not captions:
                raise ConfigError(f'{where}: empty image path or caption')
            by_image.setdefault(path, []).extend(captions)
        if not by_image:
            raise DataRootNotFoundError(
                f"caption manifest '{self.ann_file}' lists no images")
        return [
            dict(img_path=os.path.join(self.data_root, path),
                 captions=captions) for path, captions in by_image.items()
        ]

    def iter_captions(self) -> Iterator[str]:
        """Every caption of every image (for fitting a tokenizer)."""
        for index in range(len(self)):
            yield from self.get_data_info(index)['captions']


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
