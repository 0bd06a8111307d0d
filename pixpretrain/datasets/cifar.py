"""CIFAR-10 / CIFAR-100 read from the official python pickle batches."""
import os
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dist import barrier, get_dist_info

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import DataFileError, DataRootNotFoundError

from .base import DATA_DOCS, ImageDataset, check_split
from .cifar_pickle import _load_pickle
from .folder_scan import scan_class_folders
from .image_folder import IMG_EXTENSIONS
from .transforms.loading import read_rgb


def _names(values: Sequence[Union[str, bytes]]) -> tuple:
    return tuple(v.decode() if isinstance(v, bytes) else v for v in values)


@DATASETS.register_module()
class CIFAR10(ImageDataset):
    """CIFAR-10 from the official python batches (``cifar-10-batches-py``).

    Samples carry the image itself (``img``, HWC uint8 RGB, 32x32) rather
    than a path, so the pipeline starts without ``LoadImageFromFile``.

    Without batches, an image-folder copy ``data_root/<split>/<class>/*``
    (e.g. PNG or JPEG exports) is read instead, each file decoded when its
    sample is fetched; the official label order is the alphabetical order
    of the class names, so the sorted folder names give the same labels.

    Args:
        data_root (str): Folder holding ``cifar-10-batches-py`` (as
            torchvision lays it out), that folder itself, or an image-folder
            copy with ``train`` and ``test`` sub-folders.
        split (str): 'train' (50,000 images) or 'test' (10,000).
            Defaults to 'train'.
        download (bool): Fetch and verify the official archive with
            ``torchvision.datasets.CIFAR10(data_root, download=True)`` first
            (rank 0 only; other ranks wait). Defaults to False.
        pipeline (Sequence[dict | Callable]): Transforms. Defaults to ().
        indices (int | Sequence[int], optional): Keep only these samples.
            An int N keeps N samples spread evenly over the classes (see
            :func:`class_balanced_indices`: N // C per class, the remainder
            to the smallest labels); a sequence keeps exactly those samples.
        serialize_data (bool): Pack samples into one numpy buffer so
            dataloader workers share it. Defaults to True.
        test_mode (bool): mmengine's test mode (no refetch on failure).
        lazy_init (bool): Defer reading the batches until first use.
        max_refetch (int): Retries when an image is unreadable or the
            pipeline returns None.
        max_bad_fraction (float): For image-folder copies: unreadable images
            are skipped with a warning; the run stops once they exceed this
            fraction, in [0, 1] (see :class:`BadImageBudget`). Defaults to
            0.01.
    """

    base_folder = 'cifar-10-batches-py'
    train_files = tuple(f'data_batch_{i}' for i in range(1, 6))
    test_files = ('test_batch', )
    meta_file = 'batches.meta'
    meta_key = 'label_names'
    labels_key = 'labels'
    display_name = 'CIFAR-10'
    torchvision_name = 'CIFAR10'
    num_classes = 10

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 download: bool = False,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 max_bad_fraction: float = 0.01) -> None:
        self.split = check_split(split, self.display_name)
        data_root = os.path.expanduser(data_root)
        if download:
            self._download(data_root)
        self.batch_dir, self.image_dir = self._locate(data_root)
        super().__init__(
            pipeline=pipeline, indices=indices, serialize_data=serialize_data,
            test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch,
            max_bad_fraction=max_bad_fraction, data_root=data_root)

    def _download(self, data_root: str) -> None:
        from torchvision import datasets
        rank, _ = get_dist_info()
        if rank == 0:
            getattr(datasets, self.torchvision_name)(
                data_root, train=self.split == 'train', download=True)
        # Other ranks must not read half-extracted files.
        barrier()

    def _locate(self, data_root: str) -> Tuple[Optional[str], Optional[str]]:
        """The batch folder, or else the image-folder copy of the split."""
        files = (self.train_files if self.split == 'train' else
                 self.test_files) + (self.meta_file, )
        for folder in (os.path.join(data_root, self.base_folder), data_root):
            if os.path.isfile(os.path.join(folder, self.meta_file)):
                missing = [
                    f for f in files
                    if not os.path.isfile(os.path.join(folder, f))
                ]
                if missing:
                    raise DataRootNotFoundError(
                        f"{self.display_name} file "
                        f"'{os.path.join(folder, missing[0])}' does not "
                        'exist; pass download=True to fetch the official '
                        f"python batches into '{data_root}', or see "
                        f'{DATA_DOCS}')
                return folder, None
        image_dir = os.path.join(data_root, self.split)
        if os.path.isdir(image_dir):
            return None, image_dir
        raise DataRootNotFoundError(
            f"{self.display_name} batches "
            f"'{os.path.join(data_root, self.base_folder)}' do not exist, "
            f"nor an image-folder copy '{image_dir}'; pass download=True to "
            f"fetch the official python batches into '{data_root}', or see "
            f'{DATA_DOCS}')

    def load_data_list(self) -> List[dict]:
        """Read the split's batches (called once by ``full_init``).

        Returns:
            list[dict]: ``img`` (32x32x3 uint8), ``gt_label``, ``img_path``
            (None), ``ori_shape`` and ``img_shape``; from an image-folder
            copy, ``img_path`` and ``gt_label`` only.
        """
        if self.image_dir is not None:
            classes, data_list = scan_class_folders(self.image_dir,
                                                    IMG_EXTENSIONS)
            if len(classes) != self.num_classes:
                raise DataFileError(
                    f"'{self.image_dir}' has {len(classes)} class folders "
                    f'with images; {self.display_name} has '
                    f'{self.num_classes}: unpack the data set again (see '
                    f'{DATA_DOCS})')
            self._metainfo['classes'] = classes
            return data_list
        meta = _load_pickle(os.path.join(self.batch_dir, self.meta_file))
        self._metainfo['classes'] = _names(meta[self.meta_key])
        files = self.train_files if self.split == 'train' else self.test_files
        images, labels = [], []
        for name in files:
            path = os.path.join(self.batch_dir, name)
            entry = _load_pickle(path)
            data = np.asarray(entry['data'], dtype=np.uint8)
            batch_labels = entry[self.labels_key]
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 \
                    or len(batch_labels) != len(data):
                raise DataFileError(
                    f"'{path}' is not an official {self.display_name} "
                    f'batch: data {data.shape} with {len(batch_labels)} '
                    f'labels; download it again (see {DATA_DOCS})')
            images.append(data)
            labels.extend(int(x) for x in batch_labels)
        # Each row is the R plane, then G, then B, each 32x32 row-major.
        imgs = np.ascontiguousarray(
            np.concatenate(images).reshape(-1, 3, 32, 32).transpose(
                0, 2, 3, 1))
        return [
            dict(img=img, gt_label=label, img_path=None, ori_shape=(32, 32),
                 img_shape=(32, 32)) for img, label in zip(imgs, labels)
        ]

    def get_data_info(self, idx: int) -> dict:
        """The ``idx``-th sample, with ``img`` decoded for image-folder
        copies so that every pipeline can start from ``img``.

        Args:
            idx (int): Sample index.

        Returns:
            dict: The sample, ``img`` set.
        """
        info = super().get_data_info(idx)
        if 'img' not in info:
            img = read_rgb(info['img_path'])
            info.update(img=img, ori_shape=img.shape[:2],
                        img_shape=img.shape[:2])
        return info


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100 from the official python files (``cifar-100-python``),
    with the 100 fine labels.

    Args:
        data_root (str): Folder holding ``cifar-100-python``, or that folder
            itself.
        split (str): 'train' (50,000 images) or 'test' (10,000).
        download (bool): Fetch with ``torchvision.datasets.CIFAR100`` first.
        pipeline (Sequence[dict | Callable]): Transforms. Defaults to ().
        indices (int | Sequence[int], optional): As :class:`CIFAR10`
            (an int keeps a class-balanced subset).
        serialize_data (bool): Pack samples into one numpy buffer.
        test_mode (bool): mmengine's test mode.
        lazy_init (bool): Defer reading until first use.
        max_refetch (int), max_bad_fraction (float): As :class:`CIFAR10`.
    """

    base_folder = 'cifar-100-python'
    train_files = ('train', )
    test_files = ('test', )
    meta_file = 'meta'
    meta_key = 'fine_label_names'
    labels_key = 'fine_labels'
    display_name = 'CIFAR-100'
    torchvision_name = 'CIFAR100'
    num_classes = 100
