"""Progress bars with an ETA for long loops outside the Runner.

Feature extraction for probes, palette fitting, sampling, weight conversion:
wrap the loop's iterable in :func:`track_progress`. tqdm draws the bar when
it is installed; otherwise mmengine's ``ProgressBar`` (always available)
does. Only the main process draws, so distributed jobs print one bar.

    for batch in track_progress(loader, description='extracting'):
        ...
"""
import sys
import time
from typing import Iterable, Iterator, Optional, TextIO, TypeVar

from mmengine.dist import is_main_process
from mmengine.utils import ProgressBar

T = TypeVar('T')


def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def track_progress(iterable: Iterable[T],
                   total: Optional[int] = None,
                   description: str = '',
                   disable: bool = False,
                   file: Optional[TextIO] = None,
                   backend: Optional[str] = None,
                   min_interval: float = 0.1) -> Iterator[T]:
    """Yield from ``iterable`` while drawing progress, rate and ETA.

    Args:
        iterable: What to loop over.
        total: Number of items; taken from ``len(iterable)`` when it has
            one. Without it the bar counts but shows no ETA.
        description: Printed before the bar.
        disable: Draw nothing (the items still pass through).
        file: Where to draw; standard error by default, which keeps
            standard output clean for a tool's results.
        backend: 'tqdm' or 'mmengine'; by default tqdm when installed.
        min_interval: Seconds between redraws.

    Yields:
        The items of ``iterable``, unchanged.
    """
    if total is None and hasattr(iterable, '__len__'):
        total = len(iterable)  # type: ignore[arg-type]
    if disable or not is_main_process():
        yield from iterable
        return
    file = file if file is not None else sys.stderr
    tqdm = _tqdm() if backend in (None, 'tqdm') else None
    if backend == 'tqdm' and tqdm is None:
        raise ImportError("backend='tqdm' needs the tqdm package")
    if tqdm is not None:
        yield from tqdm(iterable, total=total, desc=description or None,
                        file=file, dynamic_ncols=True,
                        mininterval=min_interval)
        return
    if description:
        file.write(f'{description}\n')
    bar = ProgressBar(task_num=total or 0, file=file)
    # mmengine redraws on every update: batch fast items into a few redraws.
    pending, last_draw = 0, time.monotonic()
    for item in iterable:
        yield item
        pending += 1
        if time.monotonic() - last_draw >= min_interval:
            bar.update(pending)
            pending, last_draw = 0, time.monotonic()
    if pending:
        bar.update(pending)
    file.write('\n')
    file.flush()
