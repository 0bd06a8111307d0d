"""pixpretrain against mmpretrain 1.2.0 on this machine, in the same run.

Installs mmpretrain 1.2.0 into its own virtual environment (reusing this
environment's torch, mmengine and mmcv-lite), generates ImageNet-sized JPEGs
(no download), then alternates the two toolboxes, each in a fresh process:

* MAE training throughput: ViT-S/16 and ViT-B/16 encoders, 224 px, batch 32,
  75 % masking, 8 x 512 decoder with 16 heads, norm-pix loss, fp32, both
  through mmengine's Runner and the same benchmark code
  (``tools/analysis/benchmark.py``): images/s, step split, peak memory.
* The MAE ImageNet data pipeline (JPEG -> RandomResizedCrop 224 (0.2, 1)
  bicubic -> flip -> uint8 tensor), in images/s of one worker process with
  one thread: each toolbox's own transforms from its own MAE config.

Alternating (and swapping which toolbox goes first every round) keeps the
ratio fair on a machine whose load changes; the report gives the ratio of
every round. Example (CPU, about 25 minutes):

    python benchmarks/mmpretrain_side_by_side.py --rounds 3 \
        --json benchmarks/results_cpu.json

mmpretrain imports a few compiled mmcv ops only in modules MAE does not use;
with mmcv-lite those imports warn and MAE, its data pipeline and its data
preprocessor run unchanged.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))

MMPRETRAIN = 'mmpretrain==1.2.0'
# Pure-python packages mmpretrain imports at start-up (found by trying);
# torch, torchvision, mmengine, mmcv-lite, numpy and friends come from the
# parent environment through --system-site-packages.
MMPRETRAIN_DEPS = ['einops', 'mat4py', 'model-index', 'importlib-metadata']
DEFAULT_VENV = osp.join(osp.expanduser('~'), '.cache', 'pixpretrain',
                        'venv-mmpretrain-1.2.0')
# ViT-S/16 is DeiT-S (384 wide, 12 blocks, 6 heads); mmpretrain's own 's'
# arch is a different, 768-wide 8-block model, so its DeiT name is used.
ARCHS = dict(s=dict(pix='s', mm='deit-small', width=384),
             b=dict(pix='b', mm='b', width=768))
MM_MAE_CONFIG = 'mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--venv', default=DEFAULT_VENV,
                        help='virtual environment for mmpretrain')
    parser.add_argument('--rounds', type=int, default=3,
                        help='alternations of the two toolboxes')
    parser.add_argument('--archs', nargs='+', default=['s', 'b'],
                        choices=list(ARCHS))
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--iters', type=int, nargs='+', default=[3, 2],
                        help='timed iterations for ViT-S and ViT-B (one value: '
                        'both)')
    parser.add_argument('--warmup', type=int, nargs='+', default=[2, 1],
                        help='warm-up iterations for ViT-S and ViT-B')
    parser.add_argument('--pipeline-images', type=int, default=200,
                        help='JPEGs decoded per pipeline round')
    parser.add_argument('--skip-model', action='store_true')
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--json', default=None, help='write all results')
    # internal: one measurement in this process
    parser.add_argument('--worker', choices=['pix', 'mm'], default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument('--task', choices=['model', 'pipeline'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--arch', help=argparse.SUPPRESS)
    parser.add_argument('--data-root', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --------------------------------------------------------------- set-up
def venv_python(venv: str) -> str:
    return osp.join(venv, 'bin', 'python')


def ensure_mmpretrain(venv: str) -> str:
    """Create the venv and install mmpretrain 1.2.0 unless it is there."""
    python = venv_python(venv)
    check = [python, '-c', 'import mmpretrain.models; '
             'assert mmpretrain.__version__ == "1.2.0"']
    if osp.exists(python) and subprocess.run(
            check, capture_output=True).returncode == 0:
        return python
    print(f'installing {MMPRETRAIN} into {venv}', flush=True)
    subprocess.run([sys.executable, '-m', 'venv', '--system-site-packages',
                    venv], check=True)
    pip = [python, '-m', 'pip', 'install', '--quiet']
    # --no-deps: its requirements would replace this environment's torch
    # and mmcv-lite with mmcv (compiled ops).
    subprocess.run(pip + ['--no-deps', MMPRETRAIN], check=True)
    subprocess.run(pip + MMPRETRAIN_DEPS, check=True)
    subprocess.run(check, check=True)
    return python


# --------------------------------------------------------------- workers
def _benchmark_args(args: argparse.Namespace, arch_index: int):
    import benchmark

    def pick(values: List[int]) -> int:
        return values[min(arch_index, len(values) - 1)]

    return benchmark.parse_args([
        'unused', '--iters', str(pick(args.iters)), '--warmup',
        str(pick(args.warmup)), '--batch-size', str(args.batch_size),
        '--num-workers', str(args.num_workers), '--data-root', args.data_root
    ])


def pix_model_config(arch: str):
    from mmengine.config import Config
    path = osp.join(REPO, 'configs', 'mae', 'vit-b_800e.py')
    cfg = Config.fromfile(path)
    cfg.model.backbone.arch = ARCHS[arch]['pix']
    cfg.model.neck.encoder_dims = ARCHS[arch]['width']
    return cfg, path


def mm_pipeline() -> list:
    from mmengine.config import Config
    cfg = Config.fromfile(mm_config_path())
    return cfg.train_dataloader.dataset.pipeline


def mm_config_path() -> str:
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                    MM_MAE_CONFIG)


def mm_model_config(arch: str, data_root: str):
    from mmengine.config import Config
    cfg = Config.fromfile(mm_config_path())
    cfg.model.backbone.arch = ARCHS[arch]['mm']
    cfg.model.neck.embed_dim = ARCHS[arch]['width']
    # fp32 on the CPU, as pixpretrain's prepare_train_config does for ours.
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=data_root, with_label=False,
        pipeline=cfg.train_dataloader.dataset.pipeline)
    cfg.auto_scale_lr = dict(base_batch_size=4096, enable=False)
    cfg.resume = False
    return cfg


def run_model_worker(args: argparse.Namespace) -> dict:
    import benchmark
    from mmengine.runner import Runner
    arch_index = list(ARCHS).index(args.arch)
    bench_args = _benchmark_args(args, arch_index)
    if args.worker == 'pix':
        from pixpretrain.apis import prepare_train_config
        cfg, path = pix_model_config(args.arch)
        cfg = benchmark.configure(cfg, bench_args)
        cfg = prepare_train_config(cfg, path, cfg.work_dir)
    else:
        cfg = benchmark.configure(mm_model_config(args.arch, args.data_root),
                                  bench_args)
        path = MM_MAE_CONFIG
    cfg.experiment_name = f'{args.worker}-{args.arch}-{os.getpid()}'
    runner = Runner.from_cfg(cfg)
    return benchmark.measure(runner, bench_args, path)


def run_pipeline_worker(args: argparse.Namespace) -> dict:
    """Images/s of one worker: ``dataset[i]`` over every JPEG, one thread."""
    import cv2
    import numpy as np
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.worker == 'pix':
        from mmengine.config import Config

        from pixpretrain.registry import DATASETS
        cfg, _ = pix_model_config('b')
        dataset_cfg = cfg.train_dataloader.dataset
        dataset_cfg.data_root = args.data_root
        scope = 'pixpretrain'
    else:
        from mmpretrain.registry import DATASETS
        dataset_cfg = dict(type='CustomDataset', data_root=args.data_root,
                           with_label=False, pipeline=mm_pipeline())
        scope = 'mmpretrain'
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    dataset = DATASETS.build(dataset_cfg)
    np.random.seed(0)
    for i in range(min(8, len(dataset))):  # warm caches and imports
        dataset[i]
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(len(dataset)):
        sample = dataset[i]
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - start_cpu
    inputs = sample['inputs']
    return dict(images=len(dataset), seconds=seconds,
                images_per_s=len(dataset) / seconds,
                images_per_cpu_s=len(dataset) / cpu_seconds,
                output=f'{tuple(inputs.shape)} {inputs.dtype}',
                transforms=[t['type'] for t in (
                    dataset_cfg['pipeline'] if isinstance(dataset_cfg, dict)
                    else dataset_cfg.pipeline)])


# --------------------------------------------------------------- driver
def launch(python: str, args: argparse.Namespace, worker: str, task: str,
           data_root: str, arch: str = 'b') -> dict:
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as f:
        out = f.name
    cmd = [python, osp.abspath(__file__), '--worker', worker, '--task', task,
           '--arch', arch, '--data-root', data_root, '--out', out,
           '--batch-size', str(args.batch_size), '--num-workers',
           str(args.num_workers), '--iters', *map(str, args.iters),
           '--warmup', *map(str, args.warmup)]
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise RuntimeError(f'{worker} {task} {arch} failed')
    with open(out) as f:
        result = json.load(f)
    os.unlink(out)
    return result


def summarise(runs: Dict[str, List[dict]]) -> dict:
    """Per-round ratios pixpretrain / mmpretrain of completed rounds."""
    summary = dict(runs=runs)
    for key in ('images_per_s', 'images_per_cpu_s'):
        ratios = [p[key] / m[key] for p, m in zip(runs['pix'], runs['mm'])]
        if ratios:
            summary[key] = dict(ratios=ratios,
                                median=statistics.median(ratios),
                                range=[min(ratios), max(ratios)])
    return summary


def alternate(pythons: Dict[str, str], args, task: str, data_root: str,
              arch: str = 'b', save: Callable[[dict], None] = None) -> dict:
    """``rounds`` measurements of each toolbox, first one swapped per round.

    ``save`` receives the summary so far after every measurement, so a run
    cut short keeps its completed rounds.
    """
    runs = {'pix': [], 'mm': []}
    for r in range(args.rounds):
        order = ('pix', 'mm') if r % 2 == 0 else ('mm', 'pix')
        for worker in order:
            result = launch(pythons[worker], args, worker, task, data_root,
                            arch)
            runs[worker].append(result)
            print(f'  round {r + 1}/{args.rounds} {worker:3s} {task} {arch}: '
                  f'{result["images_per_s"]:.2f} img/s', flush=True)
            if save:
                save(summarise(runs))
    return summarise(runs)


def _median(runs: List[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _row(name: str, res: dict, memory: bool) -> str:
    pix, mm = res['runs']['pix'], res['runs']['mm']
    cells = [name]
    for key in ('images_per_s', 'images_per_cpu_s'):
        ratio = res.get(key, dict(median=float('nan'), range=[float('nan')] * 2))
        cells += [f'{_median(pix, key):.2f}', f'{_median(mm, key):.2f}',
                  f'{ratio["median"]:.2f} ({ratio["range"][0]:.2f}-'
                  f'{ratio["range"][1]:.2f})']
    if memory:
        cells.append(f'{_median(pix, "peak_memory_mib") / 1024:.2f} / '
                     f'{_median(mm, "peak_memory_mib") / 1024:.2f}')
    return '| ' + ' | '.join(cells) + ' |'


def report(results: dict) -> None:
    head = ('| | pix img/s | mm img/s | ratio (median, range) | '
            'pix img/CPU-s | mm img/CPU-s | ratio (median, range) |')
    if results.get('model'):
        print('\n' + head + ' peak RSS pix / mm (GiB) |')
        print('|---' * 8 + '|')
        for arch, res in results['model'].items():
            print(_row(f'MAE ViT-{arch.upper()}/16', res, True))
    if 'pipeline' in results:
        print('\n' + head + '\n' + '|---' * 7 + '|')
        print(_row('pipeline, one worker', results['pipeline'], False))


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker:
        runner = (run_model_worker
                  if args.task == 'model' else run_pipeline_worker)
        result = runner(args)
        with open(args.out, 'w') as f:
            json.dump(result, f)
        return result

    import benchmark
    pythons = dict(pix=sys.executable, mm=ensure_mmpretrain(args.venv))
    results = dict(started=time.strftime('%Y-%m-%d %H:%M'),
                   rounds=args.rounds, load_average=os.getloadavg())

    def saver(*keys: str) -> Callable[[dict], None]:
        def save(summary: dict) -> None:
            node = results
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = summary
            if args.json:
                with open(args.json, 'w') as f:
                    json.dump(results, f, indent=2)
        return save

    with tempfile.TemporaryDirectory() as root:
        if not args.skip_pipeline:
            print('data pipeline', flush=True)
            benchmark.make_fake_jpegs(root, args.pipeline_images)
            results['pipeline'] = alternate(pythons, args, 'pipeline', root,
                                            save=saver('pipeline'))
        if not args.skip_model:
            count = args.batch_size * (max(args.iters) + max(args.warmup) + 1)
            benchmark.make_fake_jpegs(root, max(count, args.pipeline_images))
            results['model'] = {}
            for arch in args.archs:
                print(f'MAE ViT-{arch.upper()}/16', flush=True)
                results['model'][arch] = alternate(
                    pythons, args, 'model', root, arch,
                    save=saver('model', arch))
    results['load_average_end'] = os.getloadavg()
    report(results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
