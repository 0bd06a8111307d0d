"""Labelled data outside the presets: an image folder, the data sets of a
config file, or splits held in memory (the Python API)."""
import hashlib
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

from pixpretrain.apis.inference import check_pixel_scale
from pixpretrain.utils.errors import ConfigError, PathNotFoundError

#: Names the test split's folder may have in a labelled image folder.
TEST_FOLDERS = ('val', 'test')

FOLDER_LAYOUT = ('lay it out as DIR/train/<class>/<image> and '
                 'DIR/val/<class>/<image> (or DIR/test/...)')


def folder_splits(path: str) -> Tuple[dict, dict]:
    """``ImageFolder`` arguments of the train and test split of a labelled
    image folder: ``path/train/<class>/...`` and ``path/val/<class>/...``
    (or ``test/``).

    Raises:
        ConfigError: The folder has no such sub-folders.
    """
    test = next((name for name in TEST_FOLDERS
                 if osp.isdir(osp.join(path, name))), None)
    if not osp.isdir(osp.join(path, 'train')) or test is None:
        raise ConfigError(
            f"probe data folder '{path}' has no train/ and val/ (or test/) "
            f'sub-folders: {FOLDER_LAYOUT}')
    return (dict(type='ImageFolder', data_prefix='train', with_label=True),
            dict(type='ImageFolder', data_prefix=test, with_label=True))


def config_splits(path: str) -> Tuple[dict, dict, bool]:
    """The labelled data sets of a config file: ``train_dataloader.dataset``
    and ``test_dataloader.dataset`` (else ``val_dataloader.dataset``),
    their pipelines dropped (the probe brings its own).

    Returns:
        The train and test data set configs, and whether their pipelines
        loaded images from files (``LoadImageFromFile``).
    """
    if not osp.isfile(path):
        raise PathNotFoundError(f"probe data config '{path}' does not exist")
    cfg = Config.fromfile(path)
    splits = []
    for names in (('train_dataloader', ), ('test_dataloader',
                                           'val_dataloader')):
        loader = next((cfg.get(n) for n in names if cfg.get(n)), None)
        dataset = (loader or {}).get('dataset')
        if not dataset or 'type' not in dataset or 'dataset' in dataset:
            raise ConfigError(
                f"probe data config '{path}' needs {' or '.join(names)} "
                'with a labelled dataset (a type and its arguments, no '
                'wrapper)')
        splits.append(dataset.to_dict() if hasattr(dataset, 'to_dict')
                      else dict(dataset))
    from_files = any(isinstance(step, dict)
                     and step.get('type') == 'LoadImageFromFile'
                     for split in splits for step in split.get('pipeline')
                     or [])
    for split in splits:
        split.pop('pipeline', None)
    return splits[0], splits[1], from_files


class TensorImages(Dataset):
    """Images and labels held in memory, yielded as the probe's samples.

    Args:
        images: (N, 3, H, W) uint8 images at the model's input size (or
            (N, h, w) int64 palette tokens for iGPT models).
        labels: (N,) class indices.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if len(images) != len(labels):
            raise ConfigError(f'{len(images)} images but {len(labels)} '
                              'labels')
        self.images, self.labels = images, labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.images[index],
                    data_samples=BaseDataElement(
                        gt_label=self.labels[index]))


@dataclass
class LabelledSplits:
    """A train and a test split from the caller (``ProbeSettings.data``).

    Args:
        train: Yields ``dict(inputs=..., data_samples=...)`` with
            ``data_samples.gt_label`` (what ``PackInputs`` makes), inputs
            already at the model's input size.
        test: The same, for the test split.
        num_classes: C.
        cache_id: Names the content in the feature cache: change it when
            the data change, or stale features are read.
            :meth:`from_tensors` sets it to the tensors' SHA-256.
        name: Shown in the report and the plot.
    """
    train: Dataset
    test: Dataset
    num_classes: int
    cache_id: str
    name: str = 'in-memory'

    @classmethod
    def from_tensors(cls, train_images: torch.Tensor,
                     train_labels: torch.Tensor, test_images: torch.Tensor,
                     test_labels: torch.Tensor,
                     num_classes: Optional[int] = None,
                     name: str = 'in-memory') -> 'LabelledSplits':
        """Splits of in-memory images (see :class:`TensorImages`); C
        defaults to the largest label + 1."""
        for images in (train_images, test_images):  # or iGPT token grids
            check_pixel_scale(images, 'LabelledSplits.from_tensors')
        digest = hashlib.sha256()
        for tensor in (train_images, train_labels, test_images, test_labels):
            digest.update(str((tensor.dtype, tuple(tensor.shape))).encode())
            digest.update(tensor.contiguous().numpy().tobytes())
        for labels in (train_labels, test_labels):
            if not isinstance(labels, torch.Tensor) or \
                    labels.is_floating_point() or not labels.numel() or \
                    int(labels.min()) < 0:
                raise ConfigError(
                    'LabelledSplits.from_tensors takes non-empty integer '
                    'labels of 0 or more (class indices) for both splits')
        top = int(max(train_labels.max(), test_labels.max()))
        if num_classes is None:
            num_classes = top + 1
        elif top >= num_classes:
            raise ConfigError(f'num_classes = {num_classes}, but the labels '
                              f'go up to {top}: give num_classes > {top}')
        return cls(TensorImages(train_images, train_labels),
                   TensorImages(test_images, test_labels), num_classes,
                   f'sha256:{digest.hexdigest()}', name)
