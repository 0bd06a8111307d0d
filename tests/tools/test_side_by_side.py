"""The bookkeeping of benchmarks/mmpretrain_side_by_side.py (no mmpretrain
needed): per-round ratios and the markdown report."""
import os
import sys
from pathlib import Path

import pytest
import torch

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
    sbs.report(dict(model={'s-fp32': sbs.summarise(runs)}))
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith(
        '| MAE ViT-S/16, fp32 vs fp32 | 3.00 | 2.00 | **1.50** (1.50) |')
    assert row.endswith('| 2.00 / 3.00 | - |')


def test_bf16_rows_add_the_cross_precision_ratio(capsys):
    fp32 = dict(pix=[dict(_run(2.0, 1.0), load_average_1min=3.0)],
                mm=[dict(_run(2.0, 1.0), load_average_1min=5.0)])
    bf16 = dict(pix=[_run(4.0, 2.0)], mm=[_run(3.2, 1.6)])
    sbs.report(dict(moco=dict(fp32=sbs.summarise(fp32),
                              bf16=sbs.summarise(bf16))))
    rows = capsys.readouterr().out.strip().splitlines()[-3:]
    assert rows[0].startswith('| MoCo v2 R-18 CIFAR, fp32 vs fp32 |')
    assert rows[0].endswith('| 3.0-5.0 |')
    assert rows[1].startswith(
        '| MoCo v2 R-18 CIFAR, bf16 vs bf16 | 4.00 | 3.20 | **1.25** (1.25)')
    # our bf16 round against their fp32 round: 4.0 / 2.0
    assert rows[2].startswith(
        '| MoCo v2 R-18 CIFAR, pix bf16 vs mm fp32 | 4.00 | 2.00 | **2.00**')


def test_moco_configs_are_the_same_model(tmp_path):
    """pixpretrain's side of the MoCo comparison: the CIFAR recipe with
    plain BN and the 2-layer neck mmpretrain's MoCoV2Neck has."""
    from pixpretrain.registry import MODELS
    cfg, _ = sbs.pix_moco_config(str(tmp_path))
    model = MODELS.build(cfg.model)
    norms = {type(m).__name__ for m in model.backbone.modules()
             if 'Norm' in type(m).__name__}
    assert norms == {'BatchNorm2d'}
    linears = [m for m in model.neck.modules()
               if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (512, 512), (512, 128)]
    assert model.head.queue.shape[0] * model.head.queue.shape[1] == 128 * 4096
    assert cfg.train_dataloader.dataset.indices == sbs.MOCO_IMAGES


def test_mmcv_hue_patch_wraps_negative_shifts():
    """The numpy-2 fix keeps mmcv's modulo-256 hue rotation."""
    import mmcv
    import numpy as np
    original = mmcv.adjust_hue
    try:
        sbs.patch_mmcv_hue_for_numpy2()
        img = np.random.default_rng(0).integers(0, 256, (4, 4, 3),
                                                dtype=np.uint8)
        import cv2
        h = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)[..., 0]
        out = mmcv.adjust_hue(img, -0.1, backend='cv2')
        # -0.1 * 255 = -25.5 -> -25 (C cast) -> +231 modulo 256
        expected_h = (h.astype(int) + 231) % 256
        got_h = cv2.cvtColor(out, cv2.COLOR_BGR2HSV_FULL)[..., 0]
        diff = np.abs(got_h.astype(int) - expected_h)
        # hue is circular; the HSV round trip moves it by a unit or two
        assert np.minimum(diff, 256 - diff).max() <= 3
        with pytest.raises(ValueError):
            mmcv.adjust_hue(img, 0.7)
    finally:
        mmcv.adjust_hue = original


def test_runs_merge_into_one_report(tmp_path):
    import json
    fp32 = dict(pix=[_run(2.0, 1.0)], mm=[_run(2.0, 1.0)])
    bf16 = dict(pix=[_run(4.0, 2.0)], mm=[_run(3.0, 1.5)])
    first, second = tmp_path / 'a.json', tmp_path / 'b.json'
    first.write_text(json.dumps(dict(
        started='a', model={'s-fp32': sbs.summarise(fp32)},
        pipeline=sbs.summarise(fp32))))
    second.write_text(json.dumps(dict(
        started='b', model={'s-bf16': sbs.summarise(bf16)})))
    merged = sbs.merge_runs([str(first), str(second)])
    assert sorted(merged['model']) == ['s-bf16', 's-fp32']
    assert [p['started'] for p in merged['parts']] == ['a', 'b']
    assert merged['parts'][0]['measured'] == [
        'pipeline', {'model': ['s-fp32']}]
    rows = sbs.training_rows(merged)
    # fp32, bf16, and our bf16 against their fp32 across the two files
    assert len(rows) == 3 and '| **2.00** (2.00) |' in rows[2]


def _worker_args(*extra):
    return sbs.parse_args(['--worker', 'pix', '--task', 'model', '--arch',
                           'b', '--precision', 'bf16', '--data-root', 'd',
                           '--out', 'o.json', '--batch-size', '256',
                           '--iters', '40', '--warmup', '10', *extra])


def test_gpu_worker_times_whole_steps_of_preloaded_batches():
    bench = sbs._benchmark_args(_worker_args(
        '--device', 'cuda', '--preload', '2', '--compile'), arch_index=1)
    assert bench.amp and bench.compile and bench.preload == 2
    assert bench.compile_backend == 'inductor'
    assert not bench.split  # no per-phase synchronisation on a GPU
    assert (bench.batch_size, bench.iters, bench.warmup) == (256, 40, 10)


def test_cpu_worker_arguments_are_unchanged_by_default():
    args = _worker_args()
    assert args.device == 'cpu' and args.preload == 0 and not args.compile
    bench = sbs._benchmark_args(args, arch_index=1)
    assert bench.split and not bench.compile and bench.preload == 0


def test_device_selection(monkeypatch):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0')
    sbs.select_device('cpu')  # hides GPUs from this process's torch
    assert sbs.os.environ['CUDA_VISIBLE_DEVICES'] == ''
    with pytest.raises(ValueError):
        sbs.select_device('gpu')
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match='no GPU'):
            sbs.select_device('cuda')


def _mm_cfg():
    from mmengine.config import Config
    return Config(dict(optim_wrapper=dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='AdamW', lr=1e-3))))


def test_mmpretrain_bf16_on_gpu_is_its_own_amp_wrapper():
    cfg = _mm_cfg()
    sbs._mm_precision(cfg, 'bf16', 'cuda')
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'AmpOptimWrapper'
    assert wrapper.dtype == 'bfloat16' and wrapper.loss_scale == 'dynamic'
    cfg = _mm_cfg()
    sbs._mm_precision(cfg, 'fp32', 'cuda')
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper


def test_launch_passes_the_gpu_options_to_the_worker(monkeypatch, tmp_path):
    import json
    import subprocess
    seen = {}

    def fake_run(cmd, env, capture_output, text):
        seen['cmd'], seen['env'] = cmd, env
        out = cmd[cmd.index('--out') + 1]
        with open(out, 'w') as f:
            json.dump(dict(images_per_s=1.0), f)
        return subprocess.CompletedProcess(cmd, 0, '', '')

    monkeypatch.setattr(sbs.subprocess, 'run', fake_run)
    args = sbs.parse_args(['--device', 'cuda', '--preload', '3', '--compile',
                           '--compile-backend', 'eager'])
    sbs.launch(dict(PYTHONPATH='/peer'), args, 'mm', 'model', str(tmp_path),
               'b', 'bf16')
    # This interpreter runs the worker, the repository and the toolbox's
    # folder on its path (a child of a venv's python sees the venv).
    assert seen['cmd'][0] == sys.executable
    assert seen['env']['PYTHONPATH'].split(os.pathsep) == [sbs.REPO, '/peer']
    worker = sbs.parse_args(seen['cmd'][2:])
    assert (worker.device, worker.preload, worker.compile,
            worker.compile_backend) == ('cuda', 3, True, 'eager')
    assert (worker.worker, worker.task, worker.precision) == (
        'mm', 'model', 'bf16')


def test_loader_worker_times_the_pixpretrain_loader(tmp_path):
    from pixpretrain.apis.analysis import benchmark
    benchmark.make_fake_jpegs(str(tmp_path), 4)
    args = sbs.parse_args(['--worker', 'pix', '--task', 'loader', '--arch',
                           's', '--data-root', str(tmp_path), '--out', 'o',
                           '--batch-size', '2', '--num-workers', '0',
                           '--warmup', '1', '--iters', '3'])
    result = sbs.run_loader_worker(args)
    assert result['images'] == 6 and result['images_per_s'] > 0
    assert result['output'] == '(2, 3, 224, 224) torch.uint8'
    assert result['pin_memory'] is False and result['workers'] == 0


def test_bf16_is_only_compared_where_the_cpu_computes_it(capsys):
    both = ['fp32', 'bf16']
    assert sbs.usable_precisions(both, 'cpu', native_bf16=True) == both
    assert sbs.usable_precisions(both, 'cuda', native_bf16=False) == both
    # emulated bf16 (mmpretrain) against --amp's fp32 fallback (pixpretrain)
    # would be no comparison: dropped, and said
    assert sbs.usable_precisions(both, 'cpu', native_bf16=False) == ['fp32']
    assert 'bf16 skipped' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='no native bf16'):
        sbs.usable_precisions(['bf16'], 'cpu', native_bf16=False)
