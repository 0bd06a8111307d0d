"""A tiny MAE whose loss breaks at chosen iterations, through the Runner:
the broken update is skipped, logged with its terms, and a streak stops
the run naming the last checkpoint."""
import importlib
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from pixpretrain.apis import prepare_train_config
from pixpretrain.utils.errors import NonFiniteLossError

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
FIXTURES = str(REPO / 'tests' / 'fixtures')


def build_runner(work_dir, name, max_consecutive=5, **faults):
    """The tiny MAE config as tools/train.py prepares it, faults added."""
    importlib.import_module('pixpretrain_test_plugin')  # registers FaultyMAE
    cfg = Config.fromfile(TINY)
    cfg.merge_from_dict(dict(
        model=dict(type='FaultyMAE', **faults),
        custom_hooks=[dict(type='RecordWeightsHook')],
        default_hooks=dict(nonfinite=dict(max_consecutive=max_consecutive)),
        experiment_name=name))
    return Runner.from_cfg(prepare_train_config(cfg, TINY, str(work_dir)))


def recorded_states(runner):
    (hook, ) = [h for h in runner.hooks
                if type(h).__name__ == 'RecordWeightsHook']
    return hook.states


def log_text(work_dir):
    return '\n'.join(p.read_text() for p in Path(work_dir).glob('*/*.log'))


def same_weights(first, second):
    return all(torch.equal(first[k], second[k]) for k in first)


@pytest.fixture(autouse=True)
def plugin_on_path(monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)


def test_broken_steps_leave_the_weights_alone_and_training_goes_on(tmp_path):
    runner = build_runner(tmp_path, 'skips', nan_loss_iters=[3],
                          nan_grad_iters=[6])
    runner.train()
    states = recorded_states(runner)
    assert sorted(states) == list(range(9))  # all 8 iterations ran
    for broken in (3, 6):
        assert same_weights(states[broken - 1]['weights'],
                            states[broken]['weights']), broken
        assert states[broken - 1]['optimizer_steps'] == \
            states[broken]['optimizer_steps']
    for applied in (1, 2, 4, 5, 7, 8):
        assert not same_weights(states[applied - 1]['weights'],
                                states[applied]['weights']), applied
    # AdamW counted exactly the 6 applied updates.
    assert set(states[8]['optimizer_steps']) == {6.0}
    assert runner.optim_wrapper.skipped_updates == 2
    assert (tmp_path / 'iter_8.pth').is_file()

    log = log_text(tmp_path)
    (nan_loss, ) = re.findall(r'iteration 3: non-finite loss.*', log)
    assert re.search(r'loss=nan, loss_rec=\d\.\d+, loss_fault=nan', nan_loss)
    assert nan_loss.endswith('1 in a row')
    (nan_grad, ) = re.findall(r'iteration 6: non-finite gradients.*', log)
    assert re.search(r'loss=\d\.\d+, loss_rec=\d\.\d+, loss_fault=0\b',
                     nan_grad)


def test_a_streak_stops_the_run_naming_the_last_checkpoint(tmp_path):
    runner = build_runner(tmp_path, 'streak', max_consecutive=3,
                          nan_loss_iters=[5, 6, 7])
    with pytest.raises(NonFiniteLossError) as error:
        runner.train()
    message = str(error.value)
    assert message.startswith('training stopped at iteration 7: 3 updates')
    assert message.count('\n') == 0
    assert f'last good checkpoint: {tmp_path}/iter_4.pth.' in message
    assert not (tmp_path / 'iter_8.pth').exists()
    # The two skips before the limit were reported, then the third.
    for iteration, count in ((5, 1), (6, 2), (7, 3)):
        assert re.search(f'iteration {iteration}: non-finite loss.*'
                         f'{count} in a row', log_text(tmp_path))
    # iter_4.pth holds the weights of the last applied update (4), which
    # the model still had when it stopped.
    saved = torch.load(tmp_path / 'iter_4.pth',
                       weights_only=False)['state_dict']
    assert same_weights(saved, recorded_states(runner)[4]['weights'])
    assert same_weights(saved, runner.model.state_dict())


def test_a_streak_before_any_checkpoint_says_so(tmp_path):
    runner = build_runner(tmp_path, 'early', max_consecutive=2,
                          nan_loss_iters=[1, 2])
    with pytest.raises(NonFiniteLossError,
                       match='iteration 2: .*last good checkpoint: none '
                       'saved yet'):
        runner.train()


def test_a_finite_update_resets_the_streak(tmp_path):
    runner = build_runner(tmp_path, 'reset', max_consecutive=2,
                          nan_loss_iters=[2, 4, 6])
    runner.train()  # never two in a row: no stop
    assert runner.optim_wrapper.skipped_updates == 3
