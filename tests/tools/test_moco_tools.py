"""The analysis tools on a MoCo config: throughput and kNN evaluation."""
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_moco.py')
sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
import benchmark  # noqa: E402
import knn_eval  # noqa: E402


def test_benchmark_times_moco_training_without_validating():
    result = benchmark.main([
        TINY, '--iters', '2', '--warmup', '1', '--batch-size', '4',
        '--num-workers', '0', '--cfg-options', 'experiment_name=moco_bench',
        # A validation would fail on this bank: the benchmark must skip it.
        'val_cfg.bank_dataloader.dataset.num_samples=0'
    ])
    assert result['timed_iters'] == 2
    assert result['images_per_s'] == pytest.approx(4 / result['step_time_s'])


def test_knn_eval_of_the_untrained_model(tmp_path):
    result = knn_eval.main([
        TINY, '--work-dir', str(tmp_path), '--json', str(tmp_path / 'k.json'),
        '--cfg-options', 'experiment_name=moco_knn_eval'
    ])
    assert result['checkpoint'] == 'random init'
    assert set(result['metrics']) == {'knn/top1', 'knn_backbone/top1'}
    assert (tmp_path / 'k.json').is_file()
