"""mmengine's Runner and FlexibleRunner, with their schedule's phases
checked against the steps the training loop really has.

A phase in epochs with ``convert_to_iter_based`` becomes iterations only
once the data loader's length is known: ``int(begin * epoch_length)`` to
``int(end * epoch_length)``. A warm-up that a short run scales to a
fraction of an epoch (``fit_schedule_to_loop`` for a smoke test), or a
short one on little data, can then span no iteration at all, and mmengine
stops with a traceback (``end should be larger than begin``); spanning one
step, mmengine's warm-ups (``LinearLR``, ``ConstantLR``, which undo their
factor only at a later step inside their span) leave the lr at
``start_factor`` times its base for the rest of the run. Such phases are
dropped here, with a warning naming each, before mmengine builds them.
"""
import logging
import math
from typing import Any, List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.runner import FlexibleRunner, Runner

from pixpretrain.registry import RUNNERS


def _steps(phase: dict, epoch_length: Optional[int]
           ) -> Optional[Tuple[float, float, str]]:
    """(begin, end, unit) of a phase in the steps it is stepped in, or None
    when not known here (no finite end, or no loader length to convert
    epochs with)."""
    end = phase.get('end')
    if isinstance(end, bool) or not isinstance(end, (int, float)) \
            or not math.isfinite(end):
        return None
    begin = phase.get('begin', 0)
    if phase.get('convert_to_iter_based', False):
        if epoch_length is None:
            return None
        return (int(begin * epoch_length), int(end * epoch_length),
                'iteration')
    unit = 'epoch' if phase.get('by_epoch', True) else 'iteration'
    return begin, end, unit


def whole_step_phases(phases: List[Any], epoch_length: Optional[int]
                      ) -> Tuple[List[Any], List[str]]:
    """The schedule's phases without those mmengine cannot run as meant.

    Args:
        phases: ``param_scheduler`` as a list (dicts; built schedulers are
            kept as they are).
        epoch_length: Iterations in one epoch of the training loop, or None
            when the loader has no length.

    Returns:
        The phases kept, and one warning per phase dropped: a phase that
        spans no step, or one step while a later phase follows it.
    """
    spans = [_steps(p, epoch_length) if isinstance(p, dict) else None
             for p in phases]
    # Where each phase ends, in iterations where the epoch length allows
    # comparing the two units (an iteration warm-up before an epoch cosine).
    ends = [None if span is None else (span[1] * epoch_length, 'iteration')
            if span[2] == 'epoch' and epoch_length else (span[1], span[2])
            for span in spans]
    last_end = {}
    for end, unit in filter(None, ends):
        last_end[unit] = max(last_end.get(unit, end), end)
    kept, notes = [], []
    for index, (phase, span, ended) in enumerate(zip(phases, spans, ends)):
        if span is not None:
            begin, end, unit = span
            where = (f'param_scheduler[{index}] ({phase.get("type")}, '
                     f'{phase.get("begin", 0):g}-{phase["end"]:g}')
            where += (f' epochs, {epoch_length} iterations an epoch)'
                      if phase.get('convert_to_iter_based') else ')')
            if end - begin < 1:
                notes.append(f'{where} spans no whole {unit} of this run, '
                             'so it is left out (mmengine cannot run it)')
                continue
            if end - begin < 2 and ended[0] < last_end[ended[1]]:
                notes.append(
                    f'{where} spans one {unit} before the next phase, so it '
                    'is left out (mmengine would keep its first factor '
                    'for the whole run)')
                continue
        kept.append(phase)
    return kept, notes


class _WholeStepSchedules:
    """Mixed in before a runner class: :func:`whole_step_phases` runs on
    each optimizer's schedule before training builds it."""

    def train(self):
        schedulers = self.param_schedulers
        if self._train_loop is not None and isinstance(schedulers,
                                                       (list, dict)):
            try:
                epoch_length = len(self.train_dataloader)
            except TypeError:  # a stream without a length
                epoch_length = None
            if isinstance(schedulers, dict) and 'type' not in schedulers:
                self.param_schedulers = {  # one schedule per optimizer
                    name: self._fitted(phases, epoch_length)
                    for name, phases in schedulers.items()}
            else:
                self.param_schedulers = self._fitted(schedulers,
                                                     epoch_length)
        return super().train()

    @staticmethod
    def _fitted(phases: Any, epoch_length: Optional[int]) -> List[Any]:
        kept, notes = whole_step_phases(
            phases if isinstance(phases, list) else [phases], epoch_length)
        for note in notes:
            print_log(note, logger='current', level=logging.WARNING)
        return kept


@RUNNERS.register_module()
class PretrainRunner(_WholeStepSchedules, Runner):
    """mmengine's Runner (same arguments); its schedule's phases are
    checked against the loop's steps (see the module's documentation)."""


@RUNNERS.register_module()
class PretrainFlexibleRunner(_WholeStepSchedules, FlexibleRunner):
    """mmengine's FlexibleRunner (strategies such as FSDP2; same
    arguments), its schedule checked as :class:`PretrainRunner`'s."""
