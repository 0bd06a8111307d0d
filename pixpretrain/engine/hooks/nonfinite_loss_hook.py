"""Report updates skipped for a non-finite loss; stop a run that keeps
producing them."""
from typing import Optional, Union

import torch
from mmengine.hooks import Hook

from pixpretrain.registry import HOOKS
from pixpretrain.utils.errors import NonFiniteLossError, bad_value
from pixpretrain.utils.fileio import last_checkpoint
from ..optimizers.skip_nonfinite import SkipNonFiniteMixin


def _scalar(value: Union[torch.Tensor, float]) -> float:
    return float(value.detach() if torch.is_tensor(value) else value)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Log every update the optim wrapper skipped, and stop after
    ``max_consecutive`` skips in a row.

    Works with the ``SkipNonFinite*OptimWrapper`` types (the default in
    ``configs/_base_/schedules``), which do the skipping; other wrappers get
    a warning at the start of training and no checks. Each skip is one
    warning naming the iteration (as the log counts it) and every loss
    term. The stop raises :class:`NonFiniteLossError` naming the last
    checkpoint of the work dir: the skips guarantee that every saved
    checkpoint holds weights made of finite updates only.

    Args:
        max_consecutive: Skipped updates in a row that stop the run.
    """

    priority = 'NORMAL'  # before the logger and the checkpoint of the step

    def __init__(self, max_consecutive: int = 5) -> None:
        if isinstance(max_consecutive, bool) or \
                not isinstance(max_consecutive, int) or max_consecutive < 1:
            raise bad_value(
                'max_consecutive', max_consecutive,
                'must be the number of skipped updates in a row that stops '
                'the run (allowed: an integer >= 1)')
        self.max_consecutive = max_consecutive
        self._reported = 0

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, SkipNonFiniteMixin):
            self._reported = wrapper.skipped_updates
            return
        runner.logger.warning(
            f'{type(wrapper).__name__} applies updates with a non-finite '
            'loss; use SkipNonFiniteOptimWrapper or '
            'SkipNonFiniteAmpOptimWrapper to skip them')

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs: Optional[dict] = None
                         ) -> None:
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, SkipNonFiniteMixin) or \
                wrapper.skipped_updates == self._reported:
            return
        self._reported = wrapper.skipped_updates
        iteration = runner.iter + 1
        terms = ', '.join(f'{name}={_scalar(value):.6g}'
                          for name, value in (outputs or {}).items())
        runner.logger.warning(
            f'iteration {iteration}: non-finite {wrapper.last_skip_reason}, '
            f'update skipped ({terms}); {wrapper.consecutive_skips} in a row')
        if wrapper.consecutive_skips >= self.max_consecutive:
            raise NonFiniteLossError(
                self.stop_message(runner.work_dir, iteration,
                                  wrapper.consecutive_skips))

    def stop_message(self, work_dir: str, iteration: int,
                     skips: int) -> str:
        """One line: where the run stopped and what to resume from."""
        checkpoint = last_checkpoint(work_dir) or 'none saved yet'
        return (f'training stopped at iteration {iteration}: {skips} updates '
                'in a row had a non-finite loss or gradients (limit '
                f'NonFiniteLossHook max_consecutive={self.max_consecutive}); '
                f'last good checkpoint: {checkpoint}. Check the data and '
                'consider a lower lr before resuming from it')
