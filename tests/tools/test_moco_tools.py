"""The analysis tools on a MoCo config: throughput and kNN evaluation."""
import json
import runpy
from pathlib import Path

import pytest

from pixpretrain.apis.analysis import benchmark

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_moco.py')


def test_benchmark_times_moco_training_without_validating():
    result = benchmark.run_benchmark(benchmark.parse_args([
        TINY, '--iters', '2', '--warmup', '1', '--batch-size', '4',
        '--num-workers', '0', '--cfg-options', 'experiment_name=moco_bench',
        # A validation would fail on this bank: the benchmark must skip it.
        'val_cfg.bank_dataloader.dataset.num_samples=0'
    ]))
    assert result['timed_iters'] == 2
    assert result['images_per_s'] == pytest.approx(4 / result['step_time_s'])


def test_knn_eval_of_the_untrained_model(tmp_path):
    # The tool itself: the result reaches the --json file.
    main = runpy.run_path(str(REPO / 'tools/analysis/knn_eval.py'))['main']
    assert main([
        TINY, '--work-dir', str(tmp_path), '--json', str(tmp_path / 'k.json'),
        '--cfg-options', 'experiment_name=moco_knn_eval'
    ]) == 0
    result = json.loads((tmp_path / 'k.json').read_text())
    assert result['checkpoint'] == 'random init'
    assert set(result['metrics']) == {'knn/top1', 'knn_backbone/top1'}


def test_knn_eval_refuses_checkpoints_it_cannot_load(tmp_path, capsys):
    # mmengine alone would warn in the log and evaluate random weights.
    import torch

    from pixpretrain.apis import init_model
    main = runpy.run_path(str(REPO / 'tools/analysis/knn_eval.py'))['main']
    mae = REPO / 'tests' / 'fixtures' / 'tiny_mae.py'
    other = tmp_path / 'mae.pth'
    torch.save({'state_dict': init_model(str(mae)).state_dict()}, other)
    own = tmp_path / 'moco.pth'
    torch.save({'state_dict': init_model(TINY).state_dict()}, own)
    for checkpoint, words in [(other, 'does not fit MoCo'),
                              (tmp_path / 'nope.pth', 'no such file')]:
        assert main([TINY, '--checkpoint', str(checkpoint), '--work-dir',
                     str(tmp_path / 'w')]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert main([TINY, '--checkpoint', str(own), '--work-dir',
                 str(tmp_path / 'w'), '--cfg-options',
                 'experiment_name=moco_knn_own']) == 0
