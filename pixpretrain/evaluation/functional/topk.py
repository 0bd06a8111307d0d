"""The ``topk`` setting every classification metric takes, checked once."""
import numbers
from typing import Sequence, Tuple, Union

from pixpretrain.utils.errors import ConfigError


def check_topk(topk: Union[int, Sequence[int]]) -> Tuple[int, ...]:
    """``topk`` as a non-empty tuple of ints >= 1 (an int k as ``(k, )``)."""
    if isinstance(topk, numbers.Integral):
        topk = (topk, )
    if not isinstance(topk, (list, tuple)) or not topk or any(
            isinstance(k, bool) or not isinstance(k, numbers.Integral)
            or k < 1 for k in topk):
        raise ConfigError(f'topk = {topk!r:.40}: must be an int >= 1 or a '
                          'tuple of them, e.g. topk=(1, 5)')
    return tuple(int(k) for k in topk)
