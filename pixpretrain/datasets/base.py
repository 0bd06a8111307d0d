"""Helpers shared by pixpretrain's data sets."""
from typing import Callable, List, Optional, Sequence, Union

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import BadDataError, ConfigError

#: The page every "data not found" error points at.
DATA_DOCS = 'docs/data_preparation.md'


class DataFileError(BadDataError):
    """A data set's file is unreadable, or holds objects we refuse to
    unpickle (e.g. a CIFAR batch naming a callable the official files never
    hold); the message names the file and what was refused."""


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
