"""The summary of benchmarks/gpu_device_check.sh (benchmarks/gpu_check.py):
what the runs' files say, and that a failed or skipped piece shows as such,
never as a number. No GPU needed."""
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'benchmarks'))
import gpu_check  # noqa: E402


def _model_run(ips, mfu, compiled=False, gflops=58.1):
    return dict(images_per_s=ips, step_time_s=256 / ips, warmup_time_s=3.0,
                peak_memory_mib=20480.0, train_gflops_per_image=gflops,
                achieved_tflops=ips * gflops / 1e3, mfu=mfu,
                peak_tflops=989.0, device='NVIDIA H200', precision='bf16',
                compiled=compiled, batch_size=256)


def _write(folder, name, data):
    (folder / f'{name}.json').write_text(json.dumps(data))


@pytest.fixture
def runs(tmp_path):
    _write(tmp_path, 'model-pix-eager-1', _model_run(4000.0, 0.23))
    _write(tmp_path, 'model-mm-eager-1', _model_run(3200.0, 0.19))
    _write(tmp_path, 'model-pix-eager-2', _model_run(4400.0, 0.26))
    _write(tmp_path, 'model-mm-eager-2', _model_run(4000.0, 0.23))
    _write(tmp_path, 'model-pix-compile-1', _model_run(6400.0, 0.376, True))
    _write(tmp_path, 'loader-pix', dict(
        images_per_s=3200.0, images_per_s_per_worker=200.0, workers=16,
        batch_size=256))
    _write(tmp_path, 'env', dict(gpu='NVIDIA H200', torch='2.11.0',
                                 peak_tflops_bf16=989.0))
    (tmp_path / 'pieces.tsv').write_text(
        'env\t0\t12\t\nmodel-pix-eager-1\t0\t40\t\n'
        'loader-mm\t124\t90\t(time limit 90 s)\n'
        'model-mm-compile-1\tskipped\t0\t(20 s of the budget left)\n')
    return tmp_path


def test_rounds_pair_and_targets_are_read_off_the_runs(runs):
    results = gpu_check.summarise(gpu_check.collect(str(runs)))
    eager = results['ratios']['pix eager / mm eager']
    assert eager['ratios'] == pytest.approx([1.25, 1.1])
    assert eager['pairing'] == 'same round'
    # one compiled round against the eager rounds of the same round number
    assert results['ratios']['pix compiled / pix eager']['ratios'] == \
        pytest.approx([1.6])
    assert 'mm compiled / mm eager' not in results['ratios']
    assert results['series']['pix-eager']['images_per_s'] == 4200.0
    best = results['best_pix']
    assert best['compiled'] and best['target_met']
    assert results['loader']['pix']['share_of_best_pix_model'] == \
        pytest.approx(0.5)


def test_markdown_reports_failures_and_the_missed_target(runs):
    _write(runs, 'model-pix-compile-1', _model_run(4400.0, 0.26, True))
    text = gpu_check.markdown(gpu_check.summarise(gpu_check.collect(
        str(runs))))
    assert '| pixpretrain bf16 eager | 256 | 2 | 4200.0 (4000 / 4400) |' in \
        text
    assert 'target 35% missed' in text
    assert 'piece loader-mm failed (exit 124) after 90 s (time limit 90 s)' \
        in text
    assert 'piece model-mm-compile-1 skipped' in text
    assert 'all ' not in text


def test_without_a_paired_round_ratios_use_the_median(tmp_path):
    _write(tmp_path, 'model-pix-compile-3', _model_run(6000.0, 0.35, True))
    _write(tmp_path, 'model-mm-eager-1', _model_run(3000.0, 0.18))
    _write(tmp_path, 'model-mm-eager-2', _model_run(5000.0, 0.30))
    ratio = gpu_check.summarise(gpu_check.collect(str(tmp_path)))[
        'ratios']['pix compiled / mm eager']
    assert ratio['pairing'] == 'against the median'
    assert ratio['ratios'] == pytest.approx([1.5])


def test_matmul_ceiling_runs_on_the_cpu():
    result = gpu_check.matmul_tflops(n=64, dtype='fp32', warmup=1, iters=3)
    assert result['tflops'] > 0 and result['repeats'] == 3


def _fsdp_run(outcome='finished', with_cp=True):
    finished = outcome == 'finished'  # else no step finished: no timing
    return dict(outcome=outcome, params=1.363e9, gpus=1, batch_per_gpu=16,
                with_cp=with_cp, step_s=1.0 if finished else None,
                images_per_s=16.0 if finished else None,
                model_tflops=150.0 if finished else None,
                mfu=150 / 989 if finished else None, peak_allocated_gib=30.5,
                peak_reserved_gib=33.0, predicted_fp32_gib=31.2)


def test_sharded_igpt_runs_show_as_a_table_out_of_memory_included(runs):
    _write(runs, 'fsdp-igpt-l-cp', _fsdp_run())
    _write(runs, 'fsdp-igpt-l', _fsdp_run('out of memory', with_cp=False))
    text = gpu_check.markdown(gpu_check.summarise(gpu_check.collect(
        str(runs))))
    rows = [line for line in text.splitlines()
            if line.startswith('| fsdp-igpt-l')]
    assert rows == [
        '| fsdp-igpt-l-cp (1.36 B params) | 1 | 16 | yes | finished | 1.000 '
        '| 16.0 | 150 | 15.2% | 30.5 | 33.0 | 31.2 |',
        '| fsdp-igpt-l (1.36 B params) | 1 | 16 | no | out of memory | - '
        '| - | - | - | 30.5 | 33.0 | 31.2 |']
