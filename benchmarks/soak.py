"""Soak test: many tiny training iterations, resident memory sampled.

Trains a config through mmengine's Runner (as ``tools/train.py`` prepares
it) for ``--iters`` iterations and reads the process's resident set size
every ``--every`` iterations. Steady memory shows as a flat line after the
warm-up; anything that keeps a reference per iteration (log history,
caches, queues) shows as a positive slope. Writes the samples and a summary
as JSON, e.g.:

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/soak.py \
        tests/fixtures/tiny_mae.py --iters 3000 --every 50 \
        --out benchmarks/results/soak_mae.json

Use configs whose data loader has ``num_workers=0`` (the tiny test
configs): workers' memory is not in the main process's RSS. With a small
data set pass ``train_dataloader.sampler.type=InfiniteSampler``: mmengine's
iteration loop sleeps 2 s each time a DefaultSampler's epoch ends.
"""
import argparse
import gc
import json
import os
import os.path as osp
import platform
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import DictAction
from mmengine.hooks import Hook

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def rss_mib() -> float:
    """Resident set size of this process now (psutil, else /proc)."""
    try:
        import psutil
    except ImportError:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024  # reported in kB
        raise RuntimeError('no VmRSS in /proc/self/status')
    return psutil.Process().memory_info().rss / 2**20


def memory_summary(samples: Sequence[Dict], warmup: int) -> Dict:
    """First / last / max RSS and the least-squares slope after warm-up.

    Args:
        samples: ``dict(iter=..., rss_mib=...)`` in iteration order.
        warmup: Samples before this iteration are left out (allocator and
            caches filling up), except in ``max_mib``.

    Returns:
        ``first_mib`` and ``last_mib`` (first and last sample after the
        warm-up), ``max_mib`` (over all samples), ``growth_mib`` (last -
        first), ``slope_mib_per_1k_iters`` (fit over the samples after the
        warm-up) and ``fitted_samples``.
    """
    steady = [s for s in samples if s['iter'] >= warmup]
    if len(steady) < 2:
        raise ValueError(
            f'need 2 samples after iteration {warmup}, got {len(steady)}')
    iters = np.array([s['iter'] for s in steady], dtype=np.float64)
    rss = np.array([s['rss_mib'] for s in steady], dtype=np.float64)
    slope = np.polyfit(iters, rss, 1)[0]
    return dict(first_mib=rss[0], last_mib=rss[-1],
                max_mib=max(s['rss_mib'] for s in samples),
                growth_mib=rss[-1] - rss[0],
                slope_mib_per_1k_iters=slope * 1000,
                fitted_samples=len(steady))


class MemorySamplerHook(Hook):
    """Records (iteration, RSS, live Python objects, scalars in the log
    history) before the first iteration and after every ``every``-th. A growing object count points
    at Python-level references; RSS growth without it at native memory."""

    priority = 'LOWEST'

    def __init__(self, every: int) -> None:
        self.every = every
        self.samples: List[Dict] = []

    def before_train(self, runner) -> None:
        self.sample(runner, 0)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if (runner.iter + 1) % self.every == 0:
            self.sample(runner, runner.iter + 1)

    def sample(self, runner, iteration: int) -> None:
        rss = rss_mib()  # before the collection below frees anything
        gc.collect()  # count live objects, not garbage awaiting collection
        # mmengine's MessageHub keeps every logged scalar (up to 1e6 per
        # key, a float64 value and an int64 count each): growth by design.
        history = sum(len(buffer.data[0]) for buffer in
                      runner.message_hub.log_scalars.values())
        self.samples.append(dict(iter=iteration, rss_mib=rss,
                                 python_objects=len(gc.get_objects()),
                                 logged_scalars=history))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='an iteration-based training config')
    parser.add_argument('--iters', type=int, default=3000)
    parser.add_argument('--every', type=int, default=50,
                        help='sample memory every this many iterations')
    parser.add_argument('--warmup', type=int, default=None,
                        help='iterations left out of the fit (default: '
                        'a tenth)')
    parser.add_argument('--work-dir', help='default: a temporary folder')
    parser.add_argument('--out', help='write the JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default=None,
                        help='config overrides, as in tools/train.py')
    return parser.parse_args(argv)


def soak(config: str, iters: int, every: int, work_dir: str,
         cfg_options: Optional[dict] = None) -> List[Dict]:
    """Train ``config`` for ``iters`` iterations; the memory samples."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from pixpretrain.apis import prepare_train_config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.train_cfg.max_iters = iters
    cfg.experiment_name = f'soak_{int(time.time() * 1000)}'
    runner = Runner.from_cfg(prepare_train_config(cfg, config, work_dir))
    sampler = MemorySamplerHook(every)
    runner.register_hook(sampler)
    runner.train()
    return sampler.samples


def main(argv=None) -> Dict:
    args = parse_args(argv)
    warmup = args.iters // 10 if args.warmup is None else args.warmup
    start = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        samples = soak(args.config, args.iters, args.every,
                       args.work_dir or scratch, args.cfg_options)
    import torch
    result = dict(
        config=osp.relpath(osp.abspath(args.config), REPO),
        iters=args.iters, every=args.every, warmup=warmup,
        cfg_options=args.cfg_options,
        summary=memory_summary(samples, warmup),
        samples=samples,
        wall_s=time.time() - start,
        machine=dict(cpu=platform.processor() or platform.machine(),
                     cores=os.cpu_count(), python=platform.python_version(),
                     torch=torch.__version__, threads=torch.get_num_threads()),
        measured=time.strftime('%Y-%m-%d'))
    summary = result['summary']
    print(f"RSS after warm-up: first {summary['first_mib']:.1f} MiB, last "
          f"{summary['last_mib']:.1f} MiB, max {summary['max_mib']:.1f} MiB, "
          f"slope {summary['slope_mib_per_1k_iters']:+.3f} MiB / 1000 "
          f'iterations ({args.iters} iterations, {result["wall_s"]:.0f} s)')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1, default=float)
    return result


if __name__ == '__main__':
    main()
