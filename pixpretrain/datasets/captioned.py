"""Image-caption data sets read from a manifest file (prompts made from
class labels are in :mod:`.prompt_captions`).

Samples carry ``captions``, a list of one or more strings for the image;
:class:`TokenizeText` picks one per fetch.
"""
import csv
import json
import os
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .base import DATA_DOCS, ImageDataset


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
        super().__init__(
            pipeline=pipeline, indices=indices, serialize_data=serialize_data,
            test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch,
            max_bad_fraction=max_bad_fraction, ann_file=ann_file,
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
            if path is None or captions is None:  # a short CSV row
                key = self.image_key if path is None else self.caption_key
                raise ConfigError(f"{where}: no '{key}' value: the row has "
                                  'fewer columns than the header')
            if isinstance(captions, str):
                captions = [captions]
            if not isinstance(captions, list):
                raise ConfigError(f"{where}: '{self.caption_key}' must be a "
                                  'caption or a list of captions, got '
                                  f'{captions!r}')
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
