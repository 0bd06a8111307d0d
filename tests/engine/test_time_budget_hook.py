import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pixpretrain.engine import TimeBudgetHook
from pixpretrain.utils import ConfigError

REPO = Path(__file__).resolve().parents[2]
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def test_the_budget_stops_training_and_keeps_the_weights(tmp_path, capsys):
    # The budget runs out during the first of tiny_mae's 8 iterations.
    budget = str(REPO / 'tests' / 'fixtures' / 'tiny_mae_budget.py')
    assert train_tool.main([
        budget, '--work-dir', str(tmp_path), '--cfg-options',
        'experiment_name=time_budget'
    ]) == 0
    assert f'checkpoint: {tmp_path}/iter_1.pth' in capsys.readouterr().out
    state = torch.load(tmp_path / 'iter_1.pth', weights_only=False)
    assert state['meta']['iter'] == 1
    assert not (tmp_path / 'iter_4.pth').exists()


def test_the_budget_must_be_positive():
    with pytest.raises(ConfigError, match='minutes must be > 0'):
        TimeBudgetHook(minutes=0)
