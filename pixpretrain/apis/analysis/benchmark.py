"""Training throughput of a config on this machine, through mmengine's Runner.

Runs warm-up plus timed iterations of the real training step (data loading,
forward, backward, optimizer) and reports images/s, the step time split into
data wait / forward / backward / optimizer, peak memory, and the model's
FLOPs per image (forward + backward); on a GPU also the model FLOPs
utilisation (MFU) against the peak named in the output.

``tools/analysis/benchmark.py`` is its command line, e.g.::

    python tools/analysis/benchmark.py configs/mae/vit-b_800e.py \
        --fake-images 512 --batch-size 32 --iters 20 --warmup 5 \
        --cfg-options model.backbone.arch=s model.neck.encoder_dims=384

The functions below take any mmengine config, so ``benchmarks/`` reuses them
to time another toolbox's model the same way.
"""
import argparse
import os
import resource
import shutil
import tempfile
from typing import Dict

import numpy as np
import torch
from mmengine.config import Config

from pixpretrain.utils.errors import ConfigError
from ..config_checks.readers import resolve_class
from ..config_checks.signatures import inherited_init_params
# benchmark.parse_args, .peak_tflops, .count_train_flops ... stay importable
# here (benchmarks/ and tests import them from this module).
from .benchmark_args import parse_args  # noqa: F401
from .replay import ReplayLoader, preload_batches  # noqa: F401
from .timing import ProfileHook, StepTimer
from .flops import (PEAK_TFLOPS, count_cpu_flash_attention,  # noqa: F401
                    count_train_flops, cpu_name, device_name, peak_tflops)

STEP_PARTS = ('forward', 'backward', 'optimizer')


def make_fake_jpegs(folder: str, count: int, size=(500, 375)) -> None:
    """Smooth random images (JPEG-compressible like photos), one class dir."""
    from PIL import Image
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(folder, 'fake'), exist_ok=True)
    w, h = size
    for i in range(count):
        small = rng.integers(0, 256, (h // 25, w // 25, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((w, h), Image.BICUBIC)
        image.save(os.path.join(folder, 'fake', f'{i:06d}.jpg'), quality=90)


def configure(cfg: Config, args: argparse.Namespace) -> Config:
    """Turn a training config into a short benchmark run (any toolbox).

    Iteration-based loop of ``warmup + iters`` steps, no checkpoints, no
    schedulers or custom hooks, data root / batch / workers from ``args``.
    """
    loader = cfg.train_dataloader
    if args.data_root:
        loader.dataset.data_root = args.data_root
    if args.batch_size is not None:
        loader.batch_size = args.batch_size
    if args.num_workers is not None:
        loader.num_workers = args.num_workers
        loader.persistent_workers = args.num_workers > 0
    total = args.warmup + args.iters
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=total)
    cfg.pop('val_cfg', None), cfg.pop('val_dataloader', None)
    cfg.pop('val_evaluator', None)
    cfg.param_scheduler = []
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(
        1, total // 4))
    cfg.resume, cfg.load_from = False, None
    cfg.work_dir = tempfile.mkdtemp(prefix='bench-')
    # mmengine keeps one visualizer per experiment name: a second run in
    # this process with the same name would write into the first's work
    # dir, removed once that run ended
    name = cfg.get('experiment_name') or os.path.splitext(
        os.path.basename(str(args.config)))[0]
    cfg.experiment_name = f'{name}_{os.path.basename(cfg.work_dir)}'
    if args.compile:
        backend = getattr(args, 'compile_backend', None) or 'inductor'
        cfg.compile = True if backend == 'inductor' else dict(backend=backend)
    return cfg


def compile_stats() -> Dict[str, int]:
    """Graphs torch.compile made and graph breaks it met in this process:
    with errors suppressed (``apply_compile_fallback``) a step that failed to
    compile still runs, eagerly, and only these counts tell."""
    from torch._dynamo.utils import counters
    return dict(graph_breaks=sum(counters['graph_break'].values()),
                unique_graphs=counters['stats']['unique_graphs'])


def measure(runner, args: argparse.Namespace, config: str) -> dict:
    """Train ``runner`` and summarise the timed iterations."""
    preload = getattr(args, 'preload', 0)
    if preload:
        preload_batches(runner, preload)
    if args.split:
        runner.register_hook(StepTimer())
    profiler = None
    if getattr(args, 'profile', 0):
        profiler = ProfileHook(max(args.warmup - 1, 0), args.profile)
        runner.register_hook(profiler)
    runner.train()
    hub = runner.message_hub

    def timed(key: str) -> np.ndarray:
        return np.array(hub.get_scalar(f'train/{key}').data[0][args.warmup:])

    step, data = timed('time'), timed('data_time')
    # The warm-up steps hold torch.compile's (re)compilations.
    warmup_time = float(np.sum(hub.get_scalar('train/time').data[0][
        :args.warmup]))
    batch = runner.train_dataloader.batch_size
    on_gpu = torch.cuda.is_available()
    wrapper = runner.optim_wrapper
    precision = {torch.bfloat16: 'bf16', torch.float16: 'fp16'}.get(
        getattr(wrapper, 'cast_dtype', None), 'fp32')
    result = dict(
        config=config,
        device=device_name(),
        precision=precision,
        compiled=bool(runner.cfg.get('compile')),
        batch_size=batch,
        num_workers=runner.train_dataloader.num_workers,
        timed_iters=len(step),
        images_per_s=batch / step.mean(),
        step_time_s=step.mean(),
        step_time_spread_s=[float(step.min()), float(step.max())],
        warmup_time_s=warmup_time,
        data_wait_s=data.mean(),
        data_wait_share=data.mean() / step.mean(),
        peak_memory_mib=(torch.cuda.max_memory_allocated() / 2**20
                         if on_gpu else
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss /
                         1024),
        memory_kind=('CUDA max allocated' if on_gpu else
                     'peak RSS of the main process, workers excluded'),
        data=(f'{preload} batches from the data pipeline, replayed from host '
              'memory' if preload else 'data loader'),
        torch=torch.__version__)
    if result['compiled']:
        result['compile'] = dict(compile_stats(), backend=getattr(
            args, 'compile_backend', None) or 'inductor')
    if args.split:
        for part in STEP_PARTS:
            result[f'{part}_s'] = timed(f'{part}_time').mean()
        result['other_s'] = step.mean() - data.mean() - sum(
            result[f'{p}_s'] for p in STEP_PARTS)
        cpu = timed('step_cpu_time')
        result['step_cpu_s'] = cpu.mean()
        result['images_per_cpu_s'] = batch / cpu.mean()
    if profiler is not None:
        result['profile'] = profiler.table
    if args.flops:
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        model = getattr(model, '_orig_mod', model)
        batch_data = next(iter(runner.train_dataloader))
        flops = count_train_flops(model, batch_data,
                                  autocast=lambda: wrapper.optim_context(model))
        result['train_gflops_per_image'] = flops / 1e9
        achieved = flops * result['images_per_s'] / 1e12
        result['achieved_tflops'] = achieved
        peak = args.peak_tflops or peak_tflops(precision)
        if peak:
            result['peak_tflops'] = peak
            result['mfu'] = achieved / peak
    return result


def run_benchmark(args: argparse.Namespace) -> dict:
    """Time the training step of ``args.config`` as ``args`` say.

    Args:
        args: What :func:`parse_args` returns.

    Returns:
        dict: images/s, the step split, memory, FLOPs and MFU (see
        :func:`measure`).
    """
    from mmengine.runner import Runner

    from pixpretrain.apis import load_config, prepare_train_config

    cfg = load_config(args.config, args.cfg_options)
    if args.data_root or args.fake_images:
        check_takes_data_root(cfg, '--data-root' if args.data_root else
                              '--fake-images')
    work_dir = None
    with tempfile.TemporaryDirectory() as fake_root:
        try:
            if args.fake_images:
                make_fake_jpegs(fake_root, args.fake_images)
                args.data_root = fake_root
            cfg = configure(cfg, args)
            work_dir = cfg.work_dir
            cfg = prepare_train_config(cfg, args.config, cfg.work_dir, None,
                                       args.amp, False, 'none')
            result = measure(Runner.from_cfg(cfg), args, args.config)
        finally:
            if work_dir and not getattr(args, 'keep_work_dir', False):
                shutil.rmtree(work_dir, ignore_errors=True)
    if getattr(args, 'keep_work_dir', False):
        result['work_dir'] = work_dir
    return result


def check_takes_data_root(cfg: Config, flag: str) -> None:
    """Refuse ``flag`` where the config's training dataset takes no
    ``data_root`` (one that generates its images, e.g. SyntheticShapes),
    before any image is written or model built."""
    dataset = cfg.train_dataloader.dataset
    cls = resolve_class(dataset, ['train_dataloader', 'dataset'],
                        cfg.get('default_scope'))
    params = cls and inherited_init_params(cls, 'pixpretrain.')
    if params is not None and 'data_root' not in params:
        raise ConfigError(
            f"{flag}: the config's dataset {cls.__name__} takes no data_root "
            '(it reads no image files): drop the flag, or use a config whose '
            'dataset reads an image folder')
