"""Flag types the command-line tools share: argparse ``type=`` functions
that refuse a wrong value at parse time, so the tool ends with one usage
line naming the flag and the fix, before any work starts::

    parser.add_argument('--batch-size', type=positive_int, default=256)
    parser.add_argument('--device', type=device, default='cpu')

Each raises :class:`argparse.ArgumentTypeError`, which argparse prints as
``error: argument --batch-size: ...`` with exit code 2.
"""
import argparse
import math
from typing import Callable, List

__all__ = [
    'positive_int', 'non_negative_int', 'positive_float',
    'non_negative_float', 'positive_int_list', 'non_negative_float_list',
    'device'
]


def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        name = 'an integer' if kind is int else 'a number'
        raise argparse.ArgumentTypeError(
            f"'{text}' is not {name}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def _at_least(kind: type, low: float, above: bool,
              words: str) -> Callable[[str], float]:
    """A flag type: a ``kind`` number of ``low`` or more (above ``low``
    with ``above``), else ``'<value>: must be <words>'``."""

    def parse(text: str) -> float:
        value = _number(text, kind)
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f'{value:g}: must be {words}')
        return value

    parse.__doc__ = f'{"An integer" if kind is int else "A finite number"}' \
        f' {words}.'
    return parse


#: An integer of 1 or more.
positive_int = _at_least(int, 1, False, '1 or more')
#: An integer of 0 or more.
non_negative_int = _at_least(int, 0, False, '0 or more')
#: A finite number above 0.
positive_float = _at_least(float, 0, True, 'above 0')
#: A finite number of 0 or more.
non_negative_float = _at_least(float, 0, False, '0 or more')


def _list_of(item: Callable[[str], float]) -> Callable[[str], list]:

    def parse(text: str) -> List:
        parts = text.split(',')
        if not all(p.strip() for p in parts):
            raise argparse.ArgumentTypeError(
                f"'{text}': give comma-separated values without blanks, "
                'e.g. 20,200')
        try:
            return [item(p.strip()) for p in parts]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(
                f"'{text}': {exc} (comma-separated values)") from None

    return parse


#: Comma-separated integers of 1 or more, e.g. ``20,200``.
positive_int_list = _list_of(positive_int)
#: Comma-separated numbers of 0 or more, e.g. ``0,1e-4``.
non_negative_float_list = _list_of(non_negative_float)


def device(text: str) -> str:
    """A torch device this machine has: ``cpu``, ``cuda``, ``cuda:N`` or
    ``mps``.

    A device torch does not know, or one this machine lacks, is refused
    here rather than by the first tensor moved onto it, minutes later.
    """
    import torch
    try:
        parsed = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a device: use cpu, cuda or cuda:N") from None
    if parsed.type == 'cpu':
        return text
    if parsed.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(
                f"'{text}': no CUDA device here; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            raise argparse.ArgumentTypeError(
                f"'{text}': this machine has {count} CUDA device(s); use "
                f'cuda:0 to cuda:{count - 1}')
        return text
    if parsed.type == 'mps':
        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError(
                f"'{text}': no MPS device here; use --device cpu")
        return text
    raise argparse.ArgumentTypeError(
        f"'{text}': the tools run on cpu, cuda or cuda:N (or mps), not "
        f'{parsed.type}; use --device cpu')
