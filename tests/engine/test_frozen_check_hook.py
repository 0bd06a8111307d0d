import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from pixpretrain.engine import FrozenBackboneCheckHook


def runner_with_backbone():
    model = nn.Module()
    model.backbone = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model.head = nn.Linear(2, 2)
    return SimpleNamespace(model=model, logger=logging.getLogger('test'))


def test_an_untouched_backbone_passes_and_head_changes_are_ignored():
    runner = runner_with_backbone()
    hook = FrozenBackboneCheckHook()
    hook.before_train(runner)
    with torch.no_grad():
        runner.model.head.weight.add_(1.0)
    hook.after_train(runner)


@pytest.mark.parametrize('entry', ['0.weight', '1.running_mean'])
def test_a_moved_weight_or_statistic_fails(entry):
    runner = runner_with_backbone()
    hook = FrozenBackboneCheckHook()
    hook.before_train(runner)
    with torch.no_grad():
        runner.model.backbone.state_dict()[entry].add_(0.5)
    with pytest.raises(RuntimeError, match=f'changed.*{entry}'):
        hook.after_train(runner)
