"""The restricted unpickler for the official CIFAR python batches.

The stock unpickler imports and calls whatever a pickle names, so a crafted
batch file would run code when training starts; :func:`_load_pickle` admits
only what the official files hold (see :class:`_BatchUnpickler`).
"""
import functools
import pickle
from typing import Any, BinaryIO, Dict, Tuple

import numpy as np

from pixpretrain.utils.errors import DataFileError

from .base import DATA_DOCS

class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what the official batches hold.

    A pickle names the callables it needs (``GLOBAL`` opcodes) and the
    stock unpickler imports and calls any of them, so a crafted
    ``batches.meta`` would run code when training starts. The official
    files (written by Python 2 with numpy) need only numpy's array and
    dtype reconstructors; the numpy 2 spellings (``numpy._core``), the
    protocol-5 ``_frombuffer``, and ``_codecs.encode`` / ``bytes()`` (how
    Python 3 writes bytes at protocol 2) are admitted too, each limited to
    what those writers produce, so batches re-saved by Python 3 still
    load.
    """

    def __init__(self, file: BinaryIO, path: str) -> None:
        super().__init__(file, encoding='latin1')
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        found = _allowed_globals().get((module, name))
        if found is None:
            raise _refusal(
                self.path, f'it references {module}.{name}, which official '
                'CIFAR batches never hold (loading it could run code)')
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise _refusal(
            self.path, 'it references a persistent object, which official '
            'CIFAR batches never hold')


def _refusal(path: str, reason: str) -> DataFileError:
    """The one-line error for a batch file we will not load."""
    return DataFileError(
        f"refusing to load '{path}': {reason}; replace it with the official "
        f'files (download=True, or see {DATA_DOCS})')


def _numeric_dtype(*args: Any) -> np.dtype:
    """``numpy.dtype`` as unpickling calls it, refusing non-numeric kinds.

    Object arrays would carry arbitrary unpickled objects into the data
    list; the official batches hold uint8 pixels only.
    """
    dtype = np.dtype(*args)
    _check_dtype(dtype)
    return dtype


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise _Refused(f"it holds an array of dtype '{dtype}', and official "
                       'CIFAR batches hold numeric arrays only')


class _Refused(Exception):
    """Raised mid-unpickling, where the file name is not at hand;
    :func:`_load_pickle` turns it into a :class:`DataFileError`."""


def _latin1_encode(text: str, encoding: str = 'utf-8') -> bytes:
    """``_codecs.encode`` limited to the latin-1 that Python 3's protocol-2
    ``bytes`` use; other codecs are not needed for CIFAR."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise _Refused(f'it calls _codecs.encode with {encoding!r}, and '
                       'official CIFAR batches use latin-1 only')
    return text.encode('latin1')


def _empty_bytes(*args: Any) -> bytes:
    """``bytes()`` as Python 3 pickles an empty ``bytes`` at protocol 2;
    with arguments it could allocate anything, and no batch needs that."""
    if args:
        raise _Refused('it calls bytes() with arguments, which official '
                       'CIFAR batches never do')
    return b''


#: Array kinds a batch may hold: bool, signed, unsigned, float, complex.
_NUMERIC_KINDS = 'biufc'


@functools.lru_cache(maxsize=None)
def _allowed_globals() -> Dict[Tuple[str, str], Any]:
    # numpy 2 moved numpy.core to numpy._core; importing the old name warns,
    # so both spellings resolve to the new module where it exists.
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric
    allowed: Dict[Tuple[str, str], Any] = {
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): _numeric_dtype,
        ('_codecs', 'encode'): _latin1_encode,
        ('__builtin__', 'bytes'): _empty_bytes,
        ('builtins', 'bytes'): _empty_bytes,
    }
    for package in ('numpy.core', 'numpy._core'):
        allowed[(f'{package}.multiarray', '_reconstruct')] = \
            multiarray._reconstruct
        allowed[(f'{package}.multiarray', 'scalar')] = multiarray.scalar
        allowed[(f'{package}.numeric', '_frombuffer')] = numeric._frombuffer
    return allowed


def _check_values(entry: Any, path: str) -> None:
    """Refuse anything but containers, strings, numbers and numeric arrays
    in a loaded batch (dtypes can be changed after construction by a
    crafted ``BUILD`` opcode, so arrays are checked once built)."""
    stack = [entry]
    # The memo lets a pickle build a list that holds itself.
    seen = set()
    while stack:
        value = stack.pop()
        if isinstance(value, (dict, list, tuple)):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, (np.ndarray, np.generic)):
            try:
                _check_dtype(value.dtype)
            except _Refused as e:
                raise _refusal(path, str(e)) from None
        elif not isinstance(value, (str, bytes, int, float, type(None))):
            raise _refusal(
                path, f'it holds a {type(value).__name__}, which official '
                'CIFAR batches never hold')


def _load_pickle(path: str) -> Dict[str, Any]:
    """Load one official batch file, with str keys, refusing anything an
    official file does not hold (see :class:`_BatchUnpickler`).

    The official files are Python 2 pickles: 'latin1' decodes their numpy
    arrays, and keys may come back as str or bytes depending on who wrote
    the file, so both are normalised to str.

    Args:
        path (str): The batch or meta file.

    Returns:
        dict: The file's dict, keys as str.

    Raises:
        DataFileError: The file references a callable or holds a value
            the official files never hold, or is not a pickled dict.
    """
    with open(path, 'rb') as f:
        try:
            entry = _BatchUnpickler(f, path).load()
        except DataFileError:
            raise
        except _Refused as e:
            raise _refusal(path, str(e)) from None
        except Exception as e:  # truncated, not a pickle, bad numpy state
            detail = ' '.join(str(e).split())
            raise _refusal(
                path, f'it is not a readable pickle ({type(e).__name__}: '
                f'{detail})') from None
    if not isinstance(entry, dict):
        raise _refusal(
            path, f'it holds a {type(entry).__name__}, not the dict of an '
            'official CIFAR batch')
    _check_values(entry, path)
    return {(k.decode() if isinstance(k, bytes) else k): v
            for k, v in entry.items()}
