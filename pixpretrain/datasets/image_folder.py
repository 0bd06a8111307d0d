"""A data set of image files: class sub-folders, a flat folder, or a list."""
import logging
import os
from typing import Callable, List, Optional, Sequence, Union

from mmengine.logging import print_log

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .base import DATA_DOCS, ImageDataset
from .folder_scan import _top_level, scan_class_folders, scan_images

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.ppm', '.pgm',
                  '.tif', '.tiff', '.gif', '.jfif')


def _parse_label(token: str) -> Optional[int]:
    try:
        return int(token)
    except ValueError:
        return None


#: Folder names of a data set's splits, never taken for classes together.
_SPLIT_NAMES = frozenset({'train', 'val', 'valid', 'validation', 'test'})


@DATASETS.register_module()
class ImageFolder(ImageDataset):
    """Image files in a folder, labelled or not.

    Three layouts:

    - class sub-folders (``root/<class>/**/<image>``): labels follow the
      sorted class names, stored in ``metainfo['classes']``;
    - a flat folder of images (no sub-folders): unlabelled, for pretraining;
    - an annotation list (``ann_file``): one ``relative/path.jpg [label]``
      per line, paths relative to the image folder; blank lines and lines
      starting with '#' are skipped.

    Args:
        data_root (str): The folder holding the images (or class folders).
        ann_file (str): Optional annotation list, relative to ``data_root``
            unless absolute. Defaults to '' (list the folder).
        pipeline (Sequence[dict | Callable]): Transforms; should start with
            ``LoadImageFromFile``. Defaults to ().
        with_label (bool | None): None infers labels from the layout (class
            sub-folders, or labels in the list file); False drops them even
            when present; True requires them. Defaults to None.
        extensions (Sequence[str]): File suffixes counted as images,
            case-insensitive. Defaults to :data:`IMG_EXTENSIONS`.
        data_prefix (str | dict): Image folder relative to ``data_root``,
            as a string or ``dict(img_path=...)``. Defaults to ''.
        metainfo (dict, optional): Extra meta information; ``classes`` given
            here fix the label order (every class folder must be listed).
        indices (int | Sequence[int], optional): Keep only these samples.
            An int N keeps N samples: with labels, spread evenly over the
            classes (see :func:`class_balanced_indices`: N // C per class,
            the remainder to the smallest labels), without labels the first
            N in listing order; a sequence keeps exactly those samples.
        serialize_data (bool): Pack the sample list into one numpy buffer
            so dataloader workers share it. Defaults to True.
        test_mode (bool): mmengine's test mode (no refetch on failure).
        lazy_init (bool): Defer listing files until first use.
        max_refetch (int): Retries with another sample when an image is
            unreadable or the pipeline returns None. Defaults to 1000.
        max_bad_fraction (float): Unreadable images (empty, truncated, not
            an image, missing) are skipped with a warning naming them; the
            run stops once they exceed this fraction, in [0, 1] (0 stops at
            the first one). See :class:`BadImageBudget`. Files are checked
            when loaded, not when listed. Defaults to 0.01.
    """

    def __init__(self,
                 data_root: str,
                 ann_file: str = '',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 with_label: Optional[bool] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 data_prefix: Union[str, dict] = '',
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 max_bad_fraction: float = 0.01) -> None:
        data_root = os.path.expanduser(data_root)
        prefix = data_prefix.get('img_path', '') \
            if isinstance(data_prefix, dict) else data_prefix
        self.img_root = os.path.join(data_root, prefix) if prefix \
            else data_root
        self.with_label = with_label
        self.extensions = tuple(ext.lower() for ext in extensions)
        if not os.path.isdir(data_root):
            state = 'is a file, not a folder' if os.path.exists(data_root) \
                else 'does not exist'
            raise DataRootNotFoundError(
                f"data root '{data_root}' {state}; see {DATA_DOCS} to "
                'prepare ImageNet or CIFAR, or point data_root at your own '
                'image folder')
        if ann_file:
            ann_path = ann_file if os.path.isabs(ann_file) \
                else os.path.join(data_root, ann_file)
            if not os.path.isfile(ann_path):
                raise DataRootNotFoundError(
                    f"annotation file '{ann_path}' does not exist; see "
                    f'{DATA_DOCS} for the list format, or set ann_file=\'\' '
                    'to use every image under data_root')
        elif not os.path.isdir(self.img_root):
            raise DataRootNotFoundError(
                f"image folder '{self.img_root}' does not exist; see "
                f'{DATA_DOCS}, or point data_root/data_prefix at your images')
        super().__init__(
            pipeline=pipeline, indices=indices, serialize_data=serialize_data,
            test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch,
            max_bad_fraction=max_bad_fraction, ann_file=ann_file,
            metainfo=metainfo, data_root=data_root,
            data_prefix=dict(img_path=prefix))

    def load_data_list(self) -> List[dict]:
        """List the samples (called once by ``full_init``).

        Returns:
            list[dict]: ``img_path`` and, when labelled, ``gt_label``.
        """
        if self.ann_file:
            return self._load_list_file()
        return self._load_folder()

    def _load_folder(self) -> List[dict]:
        root = self.img_root
        dirs, top_images = _top_level(root, self.extensions)
        labelled = self.with_label
        if labelled is None:
            labelled = bool(dirs) and not top_images
            if dirs and top_images:
                print_log(
                    f"'{root}' holds both images and sub-folders, so its "
                    'sub-folders are not read as classes and every image is '
                    'used unlabelled; pass with_label=True to use the '
                    'sub-folders as classes', logger='current',
                    level=logging.WARNING)
        if labelled:
            return self._load_class_folders(root, dirs, top_images)
        data_list = [
            dict(img_path=os.path.join(root, rel))
            for rel in scan_images(root, self.extensions)
        ]
        if not data_list:
            raise DataRootNotFoundError(
                f"data root '{root}' exists but holds no images with "
                f"extensions {' '.join(self.extensions)}; see {DATA_DOCS}")
        return data_list

    def _load_class_folders(self, root: str, dirs: List[str],
                            top_images: List[str]) -> List[dict]:
        if not dirs:
            raise ConfigError(
                f"with_label=True but '{root}' has no class sub-folders; "
                'put each class in its own sub-folder, pass an ann_file with '
                f'labels, or use with_label=None for unlabelled images '
                f'(see {DATA_DOCS})')
        splits = sorted(d for d in dirs if d.lower() in _SPLIT_NAMES)
        if len(splits) >= 2 and len(splits) == len(dirs):
            # train/ and val/ as two classes would mix the splits silently
            raise ConfigError(
                f"'{root}' holds split folders ({', '.join(splits)}) where "
                'class folders go: point data_root (or data_prefix) at one '
                f"split, e.g. '{os.path.join(root, splits[0])}'")
        if top_images:
            print_log(
                f"ignoring {len(top_images)} images directly in '{root}': "
                'with class sub-folders only their contents are used',
                logger='current', level=logging.WARNING)
        classes, data_list = scan_class_folders(
            root, self.extensions, dirs, self._metainfo.get('classes'))
        self._metainfo['classes'] = classes
        return data_list

    def _load_list_file(self) -> List[dict]:
        data_list = []
        # First line number with / without a label, to name a mixed file.
        first_with: Optional[int] = None
        first_without: Optional[int] = None
        with open(self.ann_file, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                parts = line.rsplit(maxsplit=1)
                label = _parse_label(parts[-1]) if len(parts) == 2 else None
                if label is None:
                    path = line
                    first_without = first_without or lineno
                else:
                    path = parts[0]
                    first_with = first_with or lineno
                    if label < 0:
                        raise ConfigError(
                            f"{self.ann_file}:{lineno}: label {label} is "
                            'negative; labels are class indices from 0')
                info = dict(img_path=os.path.join(self.img_root, path))
                if label is not None and self.with_label is not False:
                    info['gt_label'] = label
                data_list.append(info)
        if first_with and first_without:
            raise ConfigError(
                f'{self.ann_file}: line {first_with} has a label but line '
                f'{first_without} does not; label every line or none')
        labelled = first_with is not None
        if not data_list:
            raise DataRootNotFoundError(
                f"annotation file '{self.ann_file}' lists no images; see "
                f'{DATA_DOCS} for the format')
        if self.with_label and not labelled:
            raise ConfigError(
                f"with_label=True but '{self.ann_file}' has no labels; "
                "write 'path label' lines (see "
                f'{DATA_DOCS}) or use with_label=None')
        classes = self._metainfo.get('classes')
        if classes is not None and labelled:
            top = max(d.get('gt_label', -1) for d in data_list)
            if top >= len(classes):
                raise ConfigError(
                    f"'{self.ann_file}' has label {top} but "
                    f"metainfo['classes'] lists only {len(classes)} classes")
        return data_list
