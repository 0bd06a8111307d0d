"""Helpers shared by pixpretrain's data sets."""
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np
from mmengine.dataset import BaseDataset

from pixpretrain.registry import TRANSFORMS
# DATA_DOCS lives with the errors so that bad_images.py, which this module
# imports, needs nothing from here; data sets still import it from .base.
from pixpretrain.utils.errors import DATA_DOCS, ConfigError

from .bad_images import BadImageBudget, fetch_sample


def build_pipeline(
        pipeline: Optional[Sequence[Union[dict, Callable]]]) -> List[Callable]:
    """Build transform configs with pixpretrain's own ``TRANSFORMS``.

    mmengine's ``Compose`` builds dicts from the root registry, which only
    finds pixpretrain's transforms under a default scope; unit tests and
    scripts that never start a Runner have none, so data sets hand
    ``BaseDataset`` ready-made callables instead.

    Args:
        pipeline (Sequence[dict | Callable] | None): Transform configs
            (``dict(type=...)``) or callables.

    Returns:
        list[Callable]: The transforms, in order.
    """
    transforms = []
    for step in pipeline or ():
        if isinstance(step, dict):
            step = TRANSFORMS.build(step)
        if not callable(step):
            raise ConfigError('pipeline steps must be transform configs '
                              f'(dicts) or callables, got {type(step)}')
        transforms.append(step)
    return transforms


def check_split(split: str, dataset: str) -> str:
    """Validate a ``split`` argument.

    Args:
        split (str): 'train' or 'test'.
        dataset (str): Data set name for the message.

    Returns:
        str: ``split`` unchanged.
    """
    if split not in ('train', 'test'):
        raise ConfigError(f"{dataset} split must be 'train' or 'test', "
                          f'got {split!r}')
    return split


def class_balanced_indices(labels: Sequence[int], count: int) -> List[int]:
    """Indices of ``count`` samples spread evenly over the classes.

    Each of the C classes present gets ``abs(count) // C`` samples, and the
    remaining ``abs(count) % C`` go one each to the classes with the
    smallest labels. A class with fewer samples than its share gives all it
    has, and its shortfall is shared among the other classes by the same
    rule. Within a class the first samples are taken (the last ones when
    ``count`` is negative, mirroring mmengine's ``indices=-N``); the result
    keeps the data set's order.

    Args:
        labels (Sequence[int]): Each sample's class label.
        count (int): How many samples to keep; ``abs(count)`` beyond the
            data set's size keeps everything.

    Returns:
        list[int]: Sample indices, ascending.
    """
    members: Dict[int, List[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    classes = sorted(members)
    taken = dict.fromkeys(classes, 0)
    remaining = min(abs(count), len(labels))
    while remaining:
        # Each round shares what is left among the classes not yet
        # exhausted, so a small class never shrinks the total.
        open_classes = [c for c in classes if taken[c] < len(members[c])]
        share, extra = divmod(remaining, len(open_classes))
        for rank, label in enumerate(open_classes):
            give = min(share + (rank < extra),
                       len(members[label]) - taken[label])
            taken[label] += give
            remaining -= give
    chosen: List[int] = []
    for label in classes:
        n = taken[label]
        if n:
            chosen.extend(members[label][:n] if count > 0 else
                          members[label][-n:])
    return sorted(chosen)


def _int_labels(infos: Iterable[dict]) -> Optional[List[int]]:
    """Every sample's ``gt_label`` as an int, or None when any sample has
    none (or a non-integer label, e.g. multi-label arrays)."""
    labels = []
    for info in infos:
        label = info.get('gt_label')
        if isinstance(label, bool) or not isinstance(label,
                                                     (int, np.integer)):
            return None
        labels.append(int(label))
    return labels


class ImageDataset(BaseDataset):
    """The base of pixpretrain's image data sets (``ImageFolder``,
    ``CIFAR10``, ``SyntheticShapes``, ``ImageCaptionManifest``).

    It takes the arguments they share, builds the pipeline with
    :func:`build_pipeline`, and adds two things to mmengine's
    ``BaseDataset``:

    - unreadable images are skipped (outside test mode) under a
      :class:`BadImageBudget` (see :func:`fetch_sample`), in data sets
      that read images (:attr:`reads_images`);
    - ``indices=N`` (and ``get_subset(N)``) keep a class-balanced subset
      where labels are known. mmengine keeps the first N samples, and data
      sets stored class by class (CIFAR's train batches are not balanced
      either, an image folder sorted by class is one class) then give a
      subset that a kNN monitor scores at 100 %. Samples without
      ``gt_label`` keep mmengine's first-N rule, since order does not bias
      classes that are not there. A sequence of indices is unchanged.

    A data set sets its own attributes, then calls ``super().__init__``
    with the shared arguments and mmengine's others (``ann_file``,
    ``data_root``, ...) as keywords.

    Args:
        pipeline (Sequence[dict | Callable]): Transform configs or
            callables. Defaults to ().
        indices (int | Sequence[int], optional): Keep only these samples;
            an int keeps a class-balanced subset where labels are known.
        serialize_data (bool): Pack the sample list into one numpy buffer
            so dataloader workers share it. Defaults to True.
        test_mode (bool): mmengine's test mode (no refetch on failure).
        lazy_init (bool): Defer loading the sample list until first use.
        max_refetch (int): Retries with another sample when an image is
            unreadable or the pipeline returns None. Defaults to 1000.
        max_bad_fraction (float): Largest tolerated fraction of unreadable
            images, in [0, 1]. Defaults to 0.01; unused where
            :attr:`reads_images` is False.
        **kwargs: mmengine's other ``BaseDataset`` arguments.
    """

    #: False in data sets that make their images in code: nothing can be
    #: unreadable, so they keep mmengine's ``__getitem__`` and its messages.
    reads_images: bool = True

    def __init__(self,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 max_bad_fraction: float = 0.01,
                 **kwargs) -> None:
        self.bad_images = BadImageBudget(max_bad_fraction) \
            if self.reads_images else None
        super().__init__(
            indices=indices,
            serialize_data=serialize_data,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            **kwargs)

    def __getitem__(self, idx: int) -> dict:
        """The ``idx``-th sample through the pipeline; an unreadable image
        is replaced by another sample (see ``max_bad_fraction``).

        Args:
            idx (int): Sample index.

        Returns:
            dict: The sample after the pipeline.
        """
        if not self.reads_images:
            # mmengine's own, with its messages (and its warning when
            # full_init was not called) unchanged.
            return super().__getitem__(idx)
        return fetch_sample(self, idx)

    def _balanced(self, indices: Union[int, Sequence[int]],
                  infos: Iterable[dict]) -> Union[int, Sequence[int]]:
        """``indices`` made class-balanced when it is an int and every
        sample has an integer label; otherwise unchanged.

        Args:
            indices (int | Sequence[int]): As the data set's ``indices``.
            infos (Iterable[dict]): Every sample's info, in order.

        Returns:
            int | Sequence[int]: What mmengine's subset should keep.
        """
        if not isinstance(indices, int) or isinstance(indices, bool):
            return indices
        labels = _int_labels(infos)
        if labels is None:
            return indices
        return class_balanced_indices(labels, indices)

    def _get_unserialized_subset(
            self, indices: Union[int, Sequence[int]]) -> list:
        """mmengine's subset of ``data_list``, an int made class-balanced.

        Args:
            indices (int | Sequence[int]): As the data set's ``indices``.

        Returns:
            list: The kept samples.
        """
        return super()._get_unserialized_subset(
            self._balanced(indices, self.data_list))

    def _get_serialized_subset(
        self, indices: Union[int, Sequence[int]]
    ) -> Tuple[np.ndarray, np.ndarray]:
        """mmengine's subset of the packed samples, an int made
        class-balanced.

        Args:
            indices (int | Sequence[int]): As the data set's ``indices``.

        Returns:
            tuple: The kept samples' bytes and end addresses.
        """
        if isinstance(indices, int) and not isinstance(indices, bool):
            # BaseDataset's own reader: subclasses may decode images in
            # get_data_info, and only the labels are needed here.
            infos = (BaseDataset.get_data_info(self, i)
                     for i in range(len(self)))
            indices = self._balanced(indices, infos)
        return super()._get_serialized_subset(indices)
