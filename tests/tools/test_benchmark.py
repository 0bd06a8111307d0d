import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
import benchmark  # noqa: E402


def test_benchmark_reports_throughput_from_timed_iterations(tmp_path):
    result = benchmark.main([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '4',
        '--warmup', '2', '--batch-size', '4', '--num-workers', '0',
        '--cfg-options', 'experiment_name=bench'
    ])
    assert result['timed_iters'] == 4
    assert result['images_per_s'] == pytest.approx(
        4 / result['step_time_s'])
    assert 0 <= result['data_wait_share'] < 1


def test_fake_jpegs_have_imagenet_like_size(tmp_path):
    from PIL import Image
    benchmark.make_fake_jpegs(str(tmp_path), 3)
    files = sorted((tmp_path / 'fake').glob('*.jpg'))
    assert len(files) == 3
    assert Image.open(files[0]).size == (500, 375)
