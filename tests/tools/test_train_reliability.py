"""tools/train.py under faults and across processes: a non-finite streak is
one error line; ranks skip together; 2 gloo processes train MAE like 1."""
import json

import pytest
import torch
from test_train import FIXTURES, REPO, TINY, run_tool, train

pytestmark = pytest.mark.distributed  # see tests/conftest.py
# Mean of the two ranks' losses vs the one-process loss, per iteration. Both
# compute the same float32 sums in a different order (4 + 4 samples, then
# DDP's gradient mean, vs 8 at once), so they differ by rounding only.
LOSS_RTOL = 1e-5


@pytest.fixture(autouse=True)
def plugin_on_path(monkeypatch):
    monkeypatch.syspath_prepend(FIXTURES)


def plugin_config(tmp_path, body: str):
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        "custom_imports = dict(imports=['pixpretrain_test_plugin'], "
        "allow_failed_imports=False)\n" + body)
    return str(config)


def torchrun(config, work_dir, *options):
    return run_tool(
        '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--standalone', str(REPO / 'tools' / 'train.py'), config,
        '--work-dir', str(work_dir), '--launcher', 'pytorch',
        *(['--cfg-options', *options] if options else []),
        env_extra=dict(OMP_NUM_THREADS='1'))


def losses(work_dir, rank):
    return json.loads((work_dir / f'losses_rank{rank}.json').read_text())


def test_a_non_finite_streak_is_one_error_line(tmp_path, capsys):
    config = plugin_config(
        tmp_path, "model = dict(type='FaultyMAE', nan_loss_iters=[5, 6])\n"
        'default_hooks = dict(nonfinite=dict(max_consecutive=2))\n')
    assert train.main([config, '--work-dir', str(tmp_path / 'w')]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith('error:')]
    assert errors == [
        'error: training stopped at iteration 6: 2 updates in a row had a '
        'non-finite loss or gradients (limit NonFiniteLossHook '
        f'max_consecutive=2); last good checkpoint: {tmp_path}/w/iter_4.pth.'
        ' Check the data and consider a lower lr before resuming from it']


def test_ranks_skip_together_when_one_rank_breaks(tmp_path):
    # Rank 0's loss is NaN at iteration 2 with finite gradients: only its
    # own check sees it, and rank 1 has to skip that update too.
    config = plugin_config(
        tmp_path, "model = dict(type='FaultyMAE', nan_loss_iters=[2], "
        'fault_rank=0)\n'
        "custom_hooks = [dict(type='DumpWeightsHook'), "
        "dict(type='DumpLossesHook')]\n"
        'train_cfg = dict(max_iters=3)\n')
    result = torchrun(config, tmp_path / 'w')
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        assert [r['skipped_updates'] for r in losses(tmp_path / 'w', rank)
                ] == [0, 1, 1], rank
    rank0, rank1 = (torch.load(tmp_path / 'w' / f'weights_rank{r}.pth')
                    for r in (0, 1))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


def test_two_gloo_processes_give_the_losses_of_one(tmp_path):
    # Same global batch of 8 in the same order (no shuffle, no random
    # augmentation: rank r takes samples r, r + 2, ...), same initial
    # weights (seed 0 on rank 0; DDP broadcasts rank 0's), and masks drawn
    # per (iteration, sample index) rather than per process.
    config = plugin_config(
        tmp_path, "model = dict(type='SampleSeededMAE')\n"
        'train_dataloader = dict(sampler=dict(shuffle=False), '
        "dataset=dict(pipeline=[dict(type='PackInputs', "
        "meta_keys=('sample_idx', ))]))\n"
        "custom_hooks = [dict(type='DumpLossesHook')]\n"
        'train_cfg = dict(max_iters=5)\n')
    one = tmp_path / 'one'
    assert train.main([config, '--work-dir', str(one)]) == 0
    result = torchrun(config, tmp_path / 'two',
                      'train_dataloader.batch_size=4')
    assert result.returncode == 0, result.stderr[-3000:]

    single = [r['loss'] for r in losses(one, 0)]
    rank0, rank1 = ([r['loss'] for r in losses(tmp_path / 'two', rank)]
                    for rank in (0, 1))
    assert len(single) == len(rank0) == len(rank1) == 5
    for step, (full, r0, r1) in enumerate(zip(single, rank0, rank1)):
        assert (r0 + r1) / 2 == pytest.approx(full, rel=LOSS_RTOL), step
        assert r0 != pytest.approx(r1, rel=1e-3)  # the halves do differ
    # The weights moved: later losses are not the first one.
    assert single[-1] != pytest.approx(single[0], rel=1e-3)
