"""Hooks that time and profile training steps for the benchmark: the step
split into forward, backward and optimizer, and torch.profiler over one
step."""
import time
from typing import Dict, List

import torch
from mmengine.hooks import Hook


class StepTimer(Hook):
    """Splits each training step into forward, backward and optimizer time.

    Wraps the model's ``train_step`` and the optim wrapper's ``backward`` for
    the length of the run and writes ``train/forward_time``,
    ``train/backward_time`` and ``train/optimizer_time`` to the message hub,
    and ``train/step_cpu_time``: CPU seconds the main process (all its
    threads) spent in the step, which other jobs on a shared machine disturb
    far less than wall time.
    Forward includes the data preprocessor (host-to-device copy and
    normalisation); optimizer includes ``zero_grad``. On a GPU every
    boundary synchronises the device, so this hook is for measuring only,
    never for training runs.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._marks: Dict[str, float] = {}

    def _now(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def _wrap(self, owner, name: str, before: str, after: str) -> None:
        original = getattr(owner, name)
        own = name in vars(owner)  # e.g. a train_step torch.compile set

        def timed(*args, **kwargs):
            self._marks[before] = self._now()
            if before == 'start':
                self._marks['cpu_start'] = time.process_time()
            out = original(*args, **kwargs)
            self._marks[after] = self._now()
            if after == 'end':
                self._marks['cpu_end'] = time.process_time()
            return out

        setattr(owner, name, timed)
        self._wrapped.append((owner, name, original if own else None))

    def before_train(self, runner) -> None:
        self._wrapped: List[tuple] = []
        model, wrapper = runner.model, runner.optim_wrapper
        self._wrap(model, 'train_step', 'start', 'end')
        self._wrap(wrapper, 'backward', 'backward', 'optimizer')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        m = self._marks
        if not {'start', 'backward', 'optimizer', 'end'} <= set(m):
            return
        durations = dict(forward=m['backward'] - m['start'],
                         backward=m['optimizer'] - m['backward'],
                         optimizer=m['end'] - m['optimizer'])
        durations['step_cpu'] = m['cpu_end'] - m['cpu_start']
        for part, seconds in durations.items():
            runner.message_hub.update_scalar(f'train/{part}_time', seconds)
        self._marks.clear()

    def after_train(self, runner) -> None:
        for owner, name, original in self._wrapped:
            if original is None:
                delattr(owner, name)  # the class's method shows through again
            else:
                setattr(owner, name, original)


class ProfileHook(Hook):
    """torch.profiler over one training iteration: the operators with the
    most self CPU time (on a GPU, of the host side).

    Args:
        iteration: Index of the profiled iteration.
        top: Operators kept, most self time first.
    """

    priority = 'VERY_LOW'

    def __init__(self, iteration: int, top: int) -> None:
        self.iteration, self.top = iteration, top
        self.table: List[dict] = []

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter == self.iteration:
            from torch.profiler import ProfilerActivity, profile
            activities = [ProfilerActivity.CPU] + (
                [ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
            self._profile = profile(activities=activities)
            self._profile.__enter__()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if runner.iter != self.iteration:
            return
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._profile.__exit__(None, None, None)
        events = self._profile.key_averages()
        total = sum(e.self_cpu_time_total for e in events) or 1.0
        events = sorted(events, key=lambda e: e.self_cpu_time_total,
                        reverse=True)[:self.top]
        self.table = [dict(op=e.key, calls=e.count,
                           self_cpu_s=e.self_cpu_time_total / 1e6,
                           self_cpu_share=e.self_cpu_time_total / total)
                      for e in events]
