"""The bookkeeping of benchmarks/mmpretrain_side_by_side.py (no mmpretrain
needed): per-round ratios and the markdown report."""
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'benchmarks'))
import mmpretrain_side_by_side as sbs  # noqa: E402


def _run(ips, cpu, mem=1024.0):
    return dict(images_per_s=ips, images_per_cpu_s=cpu, peak_memory_mib=mem)


def test_ratios_pair_the_rounds_in_order():
    runs = dict(pix=[_run(3.0, 1.5), _run(2.0, 1.2)],
                mm=[_run(2.0, 1.0), _run(2.5, 1.0)])
    summary = sbs.summarise(runs)
    assert summary['images_per_s']['ratios'] == pytest.approx([1.5, 0.8])
    assert summary['images_per_s']['range'] == pytest.approx([0.8, 1.5])
    assert summary['images_per_cpu_s']['median'] == pytest.approx(1.35)


def test_an_unfinished_round_is_left_out():
    runs = dict(pix=[_run(3.0, 1.5), _run(2.0, 1.2)], mm=[_run(2.0, 1.0)])
    assert sbs.summarise(runs)['images_per_s']['ratios'] == [1.5]
    assert 'images_per_s' not in sbs.summarise(dict(pix=[_run(1, 1)], mm=[]))


def test_report_prints_one_row_per_model(capsys):
    runs = dict(pix=[_run(3.0, 1.5, 2048)], mm=[_run(2.0, 1.0, 3072)])
    sbs.report(dict(model=dict(s=sbs.summarise(runs))))
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith('| MAE ViT-S/16 | 3.00 | 2.00 | 1.50 (1.50-1.50)')
    assert row.endswith('| 2.00 / 3.00 |')
