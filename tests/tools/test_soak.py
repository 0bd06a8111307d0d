"""benchmarks/soak.py: the memory summary and a short run of its
machinery (no memory threshold: a few dozen iterations prove nothing)."""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'benchmarks'))
import soak  # noqa: E402


def test_summary_fits_the_slope_after_the_warm_up():
    # 100 MiB growing 2 MiB per 1000 iterations, after a warm-up spike.
    samples = [dict(iter=0, rss_mib=50.0), dict(iter=10, rss_mib=500.0)]
    samples += [dict(iter=i, rss_mib=100 + 0.002 * i)
                for i in range(100, 1100, 100)]
    summary = soak.memory_summary(samples, warmup=100)
    assert summary['slope_mib_per_1k_iters'] == pytest.approx(2.0)
    assert summary['first_mib'] == pytest.approx(100.2)
    assert summary['last_mib'] == pytest.approx(102.0)
    assert summary['growth_mib'] == pytest.approx(1.8)
    assert summary['max_mib'] == 500.0  # the warm-up counts for the peak
    assert summary['fitted_samples'] == 10
    with pytest.raises(ValueError, match='2 samples'):
        soak.memory_summary(samples, warmup=1000)


def test_rss_matches_the_kernels_figure():
    status = Path('/proc/self/status').read_text()
    (line, ) = [x for x in status.splitlines() if x.startswith('VmRSS:')]
    kib = int(line.split()[1])
    assert soak.rss_mib() == pytest.approx(kib / 1024, rel=0.2)


def test_a_short_soak_samples_every_n_iterations(tmp_path):
    out = tmp_path / 'soak.json'
    result = soak.main([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '24',
        '--every', '8', '--warmup', '8', '--out', str(out),
        '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        'train_dataloader.sampler.type=InfiniteSampler'])
    assert json.loads(out.read_text())['summary'] == pytest.approx(
        result['summary'])
    samples = result['samples']
    assert [s['iter'] for s in samples] == [0, 8, 16, 24]
    assert all(s['rss_mib'] > 0 and s['python_objects'] > 0
               for s in samples)
    # The log history holds the same scalars for each of the 8 iterations
    # between two samples.
    growth = [b['logged_scalars'] - a['logged_scalars']
              for a, b in zip(samples[1:], samples[2:])]
    assert growth[0] == growth[1] > 0 and growth[0] % 8 == 0
    assert result['summary']['last_mib'] == samples[-1]['rss_mib']
    assert result['summary']['fitted_samples'] == 3
    assert result['config'] == 'tests/fixtures/tiny_mae.py'
    assert (tmp_path / 'w' / 'iter_24.pth').is_file()  # it did train
