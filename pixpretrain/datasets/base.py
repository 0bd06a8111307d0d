"""Helpers shared by pixpretrain's data sets."""
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np
from mmengine.dataset import BaseDataset

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError

#: The page every "data not found" error points at.
DATA_DOCS = 'docs/data_preparation.md'


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


class ClassBalancedSubset:
    """Makes ``indices=N`` (and ``get_subset(N)``) keep a class-balanced
    subset where labels are known.

    mmengine's ``BaseDataset`` keeps the first N samples, and data sets
    stored class by class (CIFAR's train batches are not balanced either,
    an image folder sorted by class is one class) then give a subset that
    a kNN monitor scores at 100 %. Mix in before ``BaseDataset``; samples
    without ``gt_label`` keep mmengine's first-N rule, since order does not
    bias classes that are not there. A sequence of indices is unchanged.
    """

    def _balanced(self, indices: Union[int, Sequence[int]],
                  infos: Iterable[dict]) -> Union[int, Sequence[int]]:
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
        return super()._get_unserialized_subset(  # type: ignore[misc]
            self._balanced(indices, self.data_list))  # type: ignore

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
            infos = (BaseDataset.get_data_info(self, i)  # type: ignore
                     for i in range(len(self)))  # type: ignore
            indices = self._balanced(indices, infos)
        return super()._get_serialized_subset(indices)  # type: ignore
