"""Let a config's lr (and other parameter) schedule follow its loop's length.

A config writes its schedule's ``end`` and ``T_max`` from a Python variable
when the file is read, so ``--cfg-options train_cfg.max_iters=N`` (or
``max_epochs``) would leave the cosine planned for the original length: a
shortened run stops at a high lr, a lengthened one sits at ``eta_min``.
Here the phases that end where the plan ends are moved to end with the
loop, and a cosine's ``T_max`` with them; phases that end earlier (the
warm-up) keep their length. When the warm-up does not fit in the loop (a
smoke test of a few steps), every phase is scaled by loop / plan instead.
A run meant as the first part of a longer schedule (to be resumed with a
larger ``max_epochs``) keeps the plan with ``schedule_follows_loop =
False`` in the config.
"""
import math
from typing import List, Optional, Tuple

from mmengine.config import Config

from pixpretrain.utils.errors import ConfigError


def _loop_length(cfg: Config) -> Optional[Tuple[float, bool]]:
    """(length, by_epoch) of the training loop, or None if not known."""
    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('max_epochs') is not None:
        return train_cfg['max_epochs'], True
    if train_cfg.get('max_iters') is not None:
        return train_cfg['max_iters'], False
    return None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(
        value, bool) and math.isfinite(value)


def fit_schedule_to_loop(cfg: Config) -> List[str]:
    """Move the schedule's last phases to end with the loop, in place.

    Args:
        cfg: A training config; ``param_scheduler`` a dict or a list.

    Returns:
        list[str]: One note per changed phase (empty when the schedule
        already ends with the loop or the config sets
        ``schedule_follows_loop = False``; phases whose unit is not the
        loop's, a per-epoch phase in an iteration loop or the reverse, are
        left alone).

    Raises:
        ConfigError: A phase of the schedule that cannot follow (it would
            begin after the loop ends).
    """
    loop = _loop_length(cfg)
    schedulers = cfg.get('param_scheduler')
    if loop is None or not schedulers \
            or not cfg.get('schedule_follows_loop', True):
        return []
    length, by_epoch = loop
    phases = schedulers if isinstance(schedulers, list) else [schedulers]
    # Phases in the loop's unit with a finite end; others are left alone.
    comparable = [(i, p) for i, p in enumerate(phases)
                  if p.get('by_epoch', True) == by_epoch
                  and _finite(p.get('end'))]
    planned = max((p['end'] for _, p in comparable), default=length)
    if planned == length:
        return []
    unit = 'max_epochs' if by_epoch else 'max_iters'
    if any(length <= p['end'] < planned for _, p in comparable):
        return [_scale(i, p, length / planned)
                for i, p in comparable] + [
            f'(the warm-up did not fit in train_cfg.{unit}={length}, so '
            f'the whole schedule was scaled by {length}/{planned})']
    notes = []
    for i, phase in comparable:
        if phase['end'] < planned:
            continue  # a warm-up: it fits, and keeps its length
        where = f'param_scheduler[{i}] ({phase.get("type")})'
        begin = phase.get('begin', 0)
        if begin >= length:
            raise ConfigError(
                f'{where} begins at {begin}, at or after the loop\'s end '
                f'(train_cfg.{unit}={length}): it would never run; shorten '
                f'the phases before it or lengthen train_cfg.{unit}')
        note = f'{where} ends at {length} instead of {planned}'
        phase['end'] = length
        if _finite(phase.get('T_max')) and phase['T_max'] == planned - begin:
            phase['T_max'] = length - begin
            note += f', T_max {length - begin}'
        notes.append(note)
    return notes


def _scale(index: int, phase: dict, factor: float) -> str:
    """Scale one phase's begin, end and T_max by ``factor``, in place;
    whole numbers unless mmengine converts the phase to iterations."""
    fractional = phase.get('convert_to_iter_based', False)
    old = (phase.get('begin', 0), phase['end'])
    begin = old[0] * factor
    end = old[1] * factor
    if not fractional:
        begin = int(round(begin))
        end = max(begin + 1, int(round(end)))
    phase['begin'], phase['end'] = begin, end
    if _finite(phase.get('T_max')):
        phase['T_max'] = end - begin if phase['T_max'] == old[1] - old[
            0] else max(1, phase['T_max'] * factor)
    return (f'param_scheduler[{index}] ({phase.get("type")}) runs '
            f'{begin:g}-{end:g} instead of {old[0]:g}-{old[1]:g}')
