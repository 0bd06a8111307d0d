"""Fail a frozen-backbone run whose backbone moved (MoCo's sanity check)."""
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook

from pixpretrain.models.utils import unwrap_model
from pixpretrain.registry import HOOKS
from pixpretrain.utils.state_dict import changed_entries


@HOOKS.register_module()
class FrozenBackboneCheckHook(Hook):
    """Copy ``model.backbone``'s weights and buffers before training and
    raise if any of them changed by the end.

    Catches a frozen linear probe that still updates the backbone: weight
    decay on frozen parameters, BatchNorm statistics in train mode, a
    parameter left trainable.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._before: Optional[Dict[str, torch.Tensor]] = None

    @staticmethod
    def _backbone(runner) -> torch.nn.Module:
        return unwrap_model(runner.model).backbone

    def before_train(self, runner) -> None:
        self._before = {k: v.detach().cpu().clone() for k, v in
                        self._backbone(runner).state_dict().items()}

    def after_train(self, runner) -> None:
        changed = changed_entries(self._before, self._backbone(runner))
        if changed:
            more = len(changed) - 10
            raise RuntimeError(
                'the frozen backbone changed during training: '
                f'{", ".join(changed[:10])}'
                f'{f" and {more} more" if more > 0 else ""}')
        runner.logger.info('frozen backbone unchanged after training '
                           f'({len(self._before)} tensors checked)')
