"""A progress bar with an ETA over the training iterations, on stderr."""
import time
from typing import Optional

import torch
from mmengine.hooks import Hook

from pixpretrain.registry import HOOKS
from pixpretrain.utils.progress import progress_bar


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Draw the run's iterations as a tqdm bar on standard error: count,
    rate, ETA and the last loss, between the logger's interval lines.

    The bar follows pixpretrain's progress policy
    (:mod:`pixpretrain.utils.progress`): at most ten redraws a second,
    nothing when standard error is not a terminal (``PIXPRETRAIN_PROGRESS=1``
    forces it), nothing on ranks other than 0. ``tools/train.py`` adds it.

    Args:
        disable: True: never draw; None (default): the policy decides.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, disable: Optional[bool] = None) -> None:
        self.disable = disable
        self._bar = None

    def before_train(self, runner) -> None:
        # A resumed run starts the bar where its checkpoint left off.
        self._bar = progress_bar(total=runner.max_iters, desc='train',
                                 disable=self.disable, unit='iter',
                                 initial=runner.iter)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch=None, outputs=None) -> None:
        bar = self._bar
        if bar is None or bar.disable:
            return  # off a terminal and on other ranks: nothing per step
        loss = (outputs or {}).get('loss')
        # Read the loss (a device sync on a GPU) only when the bar is due to
        # redraw, at most ten times a second, not at every step.
        if loss is not None and \
                time.time() - bar.last_print_t >= bar.mininterval:
            if isinstance(loss, torch.Tensor):
                loss = loss.detach()
            bar.set_postfix(loss=f'{float(loss):.4f}', refresh=False)
        bar.update(1)

    def after_train(self, runner) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
