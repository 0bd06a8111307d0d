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
