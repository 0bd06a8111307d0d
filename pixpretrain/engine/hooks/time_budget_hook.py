"""Train for a fixed wall-clock budget and keep the weights reached."""
import os.path as osp
import time
from typing import Optional

from mmengine.hooks import Hook

from pixpretrain.registry import HOOKS
from pixpretrain.utils.errors import ConfigError
from pixpretrain.utils.fileio import write_last_checkpoint


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Stop training once ``minutes`` of wall time have passed, saving a
    checkpoint of the last iteration (``iter_N.pth``, named in the work
    dir's ``last_checkpoint``).

    For benchmarks such as "what does a model learn in 30 minutes on this
    machine": the schedule is planned for ``max_iters``, and whatever the
    budget reaches is kept.

    Args:
        minutes: The wall-time budget, counted from the start of training.
    """

    priority = 'VERY_LOW'  # after the CheckpointHook of the same iteration

    def __init__(self, minutes: float) -> None:
        if minutes <= 0:
            raise ConfigError(f'minutes must be > 0, got {minutes}')
        self.minutes = minutes
        self._start: Optional[float] = None

    def before_train(self, runner) -> None:
        self._start = time.monotonic()

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        if time.monotonic() - self._start < self.minutes * 60:
            return
        runner.train_loop.stop_training = True
        filename = f'iter_{runner.iter + 1}.pth'
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False)
        write_last_checkpoint(runner.work_dir,
                              osp.join(runner.work_dir, filename))
        runner.logger.info(
            f'time budget of {self.minutes:g} min reached after '
            f'{runner.iter + 1} iterations; saved {filename}')
