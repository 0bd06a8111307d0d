"""Progress bars with an ETA for long loops outside the Runner.

Feature extraction for probes, palette fitting, sampling, shard writing,
weight conversion: wrap the loop's iterable in :func:`progress`, or, for
work that reports through a callback, use :func:`progress_bar`'s
``update``. The policy lives here and only here:

- tqdm draws the bar, on standard error (a tool's results on standard
  output stay clean when piped);
- at most ten redraws a second (``mininterval=0.1``), however fast the
  items come: a redraw per item made a 10,000-image palette fit print
  10,000 lines' worth of bar into logs;
- nothing at all when standard error is not a terminal (a log file, CI,
  ``2> file``), nor on processes other than the main one of a distributed
  job;
- ``PIXPRETRAIN_PROGRESS=1`` forces the bar on (e.g. to watch a job whose
  standard error is piped through ``tee``), ``PIXPRETRAIN_PROGRESS=0`` off.

    for batch in progress(loader, desc='extracting features'):
        ...
"""
import os
import sys
from typing import Iterable, Optional, TextIO, TypeVar

from mmengine.dist import is_main_process
from tqdm import tqdm

T = TypeVar('T')

#: Environment variable that overrides the terminal check: 1 / 0.
ENV_VAR = 'PIXPRETRAIN_PROGRESS'
#: Seconds between two redraws at least (ten a second at most).
MIN_INTERVAL = 0.1


def _disabled(disable: Optional[bool]) -> Optional[bool]:
    """Resolve ``disable`` for tqdm: True, False, or None (tqdm's own rule:
    draw only when the file is a terminal).

    Args:
        disable: The caller's choice; None defers to ``PIXPRETRAIN_PROGRESS``
            and then to the terminal check.

    Returns:
        What tqdm's ``disable`` gets.
    """
    if not is_main_process():
        return True  # one bar per job, not one per rank
    if disable is not None:
        return disable
    forced = os.environ.get(ENV_VAR, '').strip().lower()
    if forced in ('1', 'true', 'yes', 'on'):
        return False
    if forced in ('0', 'false', 'no', 'off'):
        return True
    return None


def progress_bar(iterable: Optional[Iterable[T]] = None,
                 total: Optional[float] = None,
                 desc: str = '',
                 disable: Optional[bool] = None,
                 file: Optional[TextIO] = None,
                 unit: str = 'it',
                 initial: int = 0) -> 'tqdm[T]':
    """A tqdm bar under pixpretrain's policy (see the module docstring).

    Use it directly where the work reports through a callback
    (``with progress_bar(total=n) as bar: work(callback=bar.update)``); a
    disabled bar accepts ``update`` and does nothing.

    Args:
        iterable: What to loop over, or None for a bar moved by ``update``.
        total: Number of items; tqdm takes ``len(iterable)`` when it has
            one. Without it the bar counts and shows the rate, no ETA.
        desc: Printed before the bar.
        disable: True: draw nothing; False: draw even when standard error
            is not a terminal; None (default): ``PIXPRETRAIN_PROGRESS`` if
            set, else draw only on a terminal.
        file: Where to draw; the current ``sys.stderr`` by default (read at
            call time, so redirections and test captures apply).
        unit: What one item is called in the rate ('img', 'token' ...).
        initial: Items already done (a resumed run): counted in the total,
            not in the rate.

    Returns:
        The bar; iterating it yields ``iterable``'s items unchanged.
    """
    return tqdm(iterable, total=total, desc=desc or None,
                disable=_disabled(disable),
                file=file if file is not None else sys.stderr,
                mininterval=MIN_INTERVAL, dynamic_ncols=True, unit=unit,
                initial=initial)


def progress(iterable: Iterable[T],
             total: Optional[float] = None,
             desc: str = '',
             disable: Optional[bool] = None,
             file: Optional[TextIO] = None,
             unit: str = 'it') -> Iterable[T]:
    """Yield from ``iterable`` while drawing count, rate and ETA.

    Args:
        iterable: What to loop over.
        total, desc, disable, file, unit: See :func:`progress_bar`.

    Returns:
        An iterable of ``iterable``'s items, unchanged.
    """
    return progress_bar(iterable, total=total, desc=desc, disable=disable,
                        file=file, unit=unit)
