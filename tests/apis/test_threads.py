"""The training process's torch threads: the cores its data workers leave,
unless the config or OMP_NUM_THREADS says otherwise."""
import pytest
import torch
from mmengine.config import Config

from pixpretrain.apis import apply_threads, choose_threads
from pixpretrain.utils import ConfigError


def config(workers=2, **env_cfg):
    return Config(dict(train_dataloader=dict(num_workers=workers),
                       test_dataloader=dict(num_workers=0),
                       env_cfg=env_cfg))


@pytest.mark.parametrize('cores, workers, processes, expected', [
    (2, 2, 1, 1),    # the newcomer's 2-core machine: never 0 threads
    (2, 1, 1, 1),
    (16, 4, 1, 12),
    (16, 2, 4, 2),   # torchrun with 4 ranks on the node: 16 // 4 - 2
    (8, 0, 1, 8),
])
def test_threads_are_the_cores_the_data_workers_leave(cores, workers,
                                                      processes, expected):
    env = dict(LOCAL_WORLD_SIZE=str(processes))
    threads, reason = choose_threads(config(workers), env, cores)
    assert threads == expected and f'{workers} data worker' in reason


def test_the_config_then_omp_num_threads_win():
    assert choose_threads(config(2, torch_threads=3), dict(
        OMP_NUM_THREADS='1'), 16)[0] == 3
    assert choose_threads(config(2), dict(OMP_NUM_THREADS='5'), 16) == (
        5, 'OMP_NUM_THREADS')
    # An empty or nonsense OMP_NUM_THREADS is not the user's choice.
    assert choose_threads(config(2), dict(OMP_NUM_THREADS=''), 16)[0] == 14


@pytest.mark.parametrize('bad', [0, -1, 1.5, 'two', True])
def test_a_bad_torch_threads_value_is_refused(bad):
    with pytest.raises(ConfigError, match='env_cfg.torch_threads'):
        choose_threads(config(torch_threads=bad), {}, 4)


def test_apply_sets_torchs_threads_for_the_loader_asked(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr('pixpretrain.apis.threads.usable_cores', lambda: 3)
    before = torch.get_num_threads()
    try:
        assert apply_threads(config(2)) == 1
        assert torch.get_num_threads() == 1
        assert apply_threads(config(2), loader='test_dataloader') == 3
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
