"""Does a pixpretrain recipe learn as well as mmpretrain's? Same recipe,
same data, same seeds and optimizer steps; each toolbox's own model,
pipeline and loop code; one evaluator for both.

For each method and seed, pixpretrain and mmpretrain 1.2.0 train side by
side, each in a fresh child process of this interpreter with one torch
thread and one data worker (mmpretrain from its own folder, see
``peer_envs.py``); both run at the same time, so they share the machine's
load. Every checkpoint is then probed by ``tools/analysis/probe.py`` (every
layer, linear and kNN, the same images), mmpretrain's after conversion with
``tools/model_converters/mmpretrain2pixpretrain.py``, and the random init
of the architecture beside them.

* ``mae``: MAE ViT-T (12 x 192, 3 heads) on 4 x 4 patches of 32 px CIFAR-10
  images, 75 % masking, a 2 x 128 decoder with 4 heads, norm-pix L2 loss,
  AdamW (0.9, 0.95) with weight decay 0.05 except norms, biases and tokens,
  linear warm-up then cosine to 1e-5, crops of scale (0.2, 1) + flip.
  pixpretrain: ``configs/mae/vit-t-p4_cifar10.py``; mmpretrain: its
  ``mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py`` with the same sizes
  (``MAEViT`` arch ``deit-tiny``, ``MAEPretrainDecoder``, its own init and
  weight-decay exclusions).
* ``moco``: MoCo v2 ResNet-18 with the ImageNet stem (7 x 7 / 2 + max-pool;
  the CIFAR stem costs 8x the compute, more than this budget), plain BN,
  fc-relu-fc neck 512-512-128, queue 4096, T 0.1, m 0.99, SGD momentum 0.9,
  weight decay 5e-4, cosine to 0 without warm-up, the CIFAR demo's views
  (crop (0.08, 1), flip, jitter 0.4/0.4/0.4/0.1 p 0.8, grey p 0.2).
  pixpretrain: ``configs/mocov2/resnet18_cifar10.py`` (plain BN instead of
  split-BN, 2-layer neck); mmpretrain: its MoCo v2 config with ``ResNet``
  depth 18, ``MoCoV2Neck``, ``momentum=0.01`` (its EMA weight of the new
  value, m = 0.99).

Both read all 50,000 training images of the CIFAR-10 JPEG folder
(``--cifar-root``, from ``../shared/data/get_cifar10.sh``) with their own
data set classes, at fp32. What differs by design is each toolbox's own
code: the random streams (masks, crops, batch order), the
initialisation schemes, mmpretrain's BGR loading + ``to_rgb``, MoCo's key
shuffle (mmpretrain gathers across ranks, pixpretrain permutes in-process).

Example (CPU, 2 cores; the stages can run separately):

    python benchmarks/quality_side_by_side.py --methods mae moco \
        --seeds 0 1 --json benchmarks/results/quality.json \
        --plot-dir docs/images
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
sys.path.insert(0, HERE)

from peer_envs import CIFAR, ensure_peer, toolbox_env  # noqa: E402

MEAN = [125.307, 122.961, 113.8575]
STD = [51.5865, 50.847, 51.255]
TOOLBOXES = ('pix', 'mm')
# The recipe each method runs in both toolboxes (``--steps`` etc. override).
RECIPES = dict(
    mae=dict(steps=800, batch_size=64, lr=1e-3, warmup=40, eta_min=1e-5),
    moco=dict(steps=2000, batch_size=64, lr=0.03, warmup=0, eta_min=0.0),
)
PIX_CONFIGS = dict(mae='configs/mae/vit-t-p4_cifar10.py',
                   moco='configs/mocov2/resnet18_cifar10.py')
MM_CONFIGS = dict(mae='mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py',
                  moco='mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--methods', nargs='+', default=['mae', 'moco'],
                        choices=sorted(RECIPES))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    parser.add_argument('--stages', nargs='+',
                        default=['train', 'probe', 'report'],
                        choices=['train', 'probe', 'report'])
    parser.add_argument('--steps', type=int, default=None,
                        help="optimizer steps (default: the method's)")
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--cifar-root', default=CIFAR)
    parser.add_argument('--work-dir', default='work_dirs/quality')
    parser.add_argument('--json', default='benchmarks/results/quality.json',
                        help='results, rewritten after every run')
    parser.add_argument('--plot-dir', default=None,
                        help='write quality_<method>_loss.png here')
    parser.add_argument('--sequential', action='store_true',
                        help='train the two toolboxes one after the other '
                        'instead of side by side')
    parser.add_argument('--force', action='store_true',
                        help='redo runs and probes the JSON already has')
    parser.add_argument('--probe-train-samples', type=int, default=10000)
    parser.add_argument('--probe-test-samples', type=int, default=2000)
    parser.add_argument('--probe-epochs', type=int, default=10)
    # One training run in this process (what the driver launches).
    parser.add_argument('--worker', choices=TOOLBOXES, help=argparse.SUPPRESS)
    parser.add_argument('--method', help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def recipe(method: str, args: argparse.Namespace) -> dict:
    """The method's recipe with the command line's overrides."""
    values = dict(RECIPES[method])
    if args.steps:
        values['steps'] = args.steps
    if args.batch_size:
        values['batch_size'] = args.batch_size
    return values


def lr_schedule(r: dict) -> list:
    """The same iteration-based schedule for both toolboxes: linear warm-up
    (when the recipe has one), then cosine to ``eta_min`` at the last step."""
    steps = r['steps']
    warmup = min(r['warmup'], steps // 4)  # short trial runs keep a cosine
    schedule = [dict(type='LinearLR', start_factor=1e-3, by_epoch=False,
                     begin=0, end=warmup)] if warmup else []
    schedule.append(dict(type='CosineAnnealingLR', T_max=steps - warmup,
                         eta_min=r['eta_min'], by_epoch=False, begin=warmup,
                         end=steps))
    return schedule


def _common(cfg, r: dict, seed: int, work_dir: str, loop: str,
            checkpoint_hook: str) -> None:
    """Loop, schedule, seed, logging and checkpointing, equal in both."""
    cfg.train_dataloader.batch_size = r['batch_size']
    cfg.train_dataloader.num_workers = 1
    cfg.train_dataloader.persistent_workers = True
    cfg.param_scheduler = lr_schedule(r)
    cfg.train_cfg = dict(type=loop, max_iters=r['steps'])
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.default_hooks.checkpoint = dict(
        type=checkpoint_hook, by_epoch=False, interval=r['steps'],
        max_keep_ckpts=1)
    cfg.log_processor = dict(by_epoch=False, window_size=10)
    cfg.visualizer = dict(type='Visualizer',
                          vis_backends=[dict(type='LocalVisBackend')])
    cfg.custom_hooks = []
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    cfg.resume, cfg.load_from = False, None
    cfg.auto_scale_lr = dict(base_batch_size=r['batch_size'], enable=False)


def pix_config(method: str, r: dict, seed: int, data_root: str,
               work_dir: str):
    """pixpretrain's config of the method, set to the shared recipe."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, PIX_CONFIGS[method]))
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.optim_wrapper.type = 'OptimWrapper'  # fp32, as mmpretrain's side
    cfg.optim_wrapper.pop('dtype', None)
    cfg.optim_wrapper.optimizer.lr = r['lr']
    if method == 'moco':
        cfg.model.backbone.cifar_stem = False
        cfg.model.backbone.norm_cfg = dict(type='BN')
        cfg.model.neck.num_layers = 2  # v2's MLP, as MoCoV2Neck
    _common(cfg, r, seed, work_dir, 'ResumableIterBasedTrainLoop',
            'AtomicCheckpointHook')
    return cfg


def mm_config(method: str, r: dict, seed: int, data_root: str,
              work_dir: str):
    """mmpretrain's own config of the method, set to the shared recipe."""
    import mmpretrain
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(osp.dirname(mmpretrain.__file__), '.mim',
                                   'configs', MM_CONFIGS[method]))
    cfg.optim_wrapper.type = 'OptimWrapper'  # its AmpOptimWrapper needs CUDA
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.optim_wrapper.pop('dtype', None)
    cfg.optim_wrapper.optimizer.lr = r['lr']
    cfg.model.data_preprocessor = dict(type='SelfSupDataPreprocessor',
                                       mean=MEAN, std=STD, to_rgb=True)
    folder = osp.join(data_root, 'train')
    if method == 'mae':
        cfg.model.backbone.update(arch='deit-tiny', img_size=32,
                                  patch_size=4)
        cfg.model.neck.update(num_patches=64, patch_size=4, embed_dim=192,
                              decoder_embed_dim=128, decoder_depth=2,
                              decoder_num_heads=4)
        cfg.model.head.patch_size = 4
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='RandomResizedCrop', scale=32,
                 crop_ratio_range=(0.2, 1.0), backend='pillow',
                 interpolation='bicubic'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackInputs')]
    else:
        cfg.model.update(queue_len=4096, feat_dim=128, momentum=0.01)
        cfg.model.backbone = dict(type='ResNet', depth=18,
                                  norm_cfg=dict(type='BN'),
                                  zero_init_residual=False)
        cfg.model.neck = dict(type='MoCoV2Neck', in_channels=512,
                              hid_channels=512, out_channels=128,
                              with_avg_pool=True)
        cfg.model.head.temperature = 0.1
        cfg.optim_wrapper.optimizer.weight_decay = 5e-4
        from mmpretrain_side_by_side import mm_moco_view
        pipeline = [dict(type='LoadImageFromFile'),
                    dict(type='MultiView', num_views=2,
                         transforms=[mm_moco_view()]),
                    dict(type='PackInputs')]
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=folder, with_label=False,
        pipeline=pipeline)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    _common(cfg, r, seed, work_dir, 'IterBasedTrainLoop', 'CheckpointHook')
    return cfg


def loss_curve(work_dir: str) -> List[List[float]]:
    """[step, loss] of every logged step; a step logged by two launches
    into the same work dir (a rerun) keeps the later one."""
    from pixpretrain.apis.analysis.training_logs import (
        find_logs, load_training_records)
    return [[r['iter'], r['loss']]
            for r in load_training_records(find_logs(work_dir))
            if 'loss' in r]


def run_worker(args: argparse.Namespace) -> dict:
    """Train one toolbox's run of one method and seed in this process."""
    import torch
    from mmengine.runner import Runner
    torch.set_num_threads(1)
    r = recipe(args.method, args)
    work_dir = osp.dirname(osp.abspath(args.out))
    if args.worker == 'pix':
        from pixpretrain.apis import prepare_train_config
        cfg = pix_config(args.method, r, args.seed, args.cifar_root,
                         work_dir)
        cfg = prepare_train_config(cfg, PIX_CONFIGS[args.method], work_dir)
        cfg.dump(osp.join(work_dir, 'pix_config.py'))
    else:
        from mmpretrain_side_by_side import patch_mmcv_hue_for_numpy2
        patch_mmcv_hue_for_numpy2()
        cfg = mm_config(args.method, r, args.seed, args.cifar_root, work_dir)
    cfg.experiment_name = f'{args.worker}-{args.method}-seed{args.seed}'
    start, load = time.perf_counter(), os.getloadavg()[0]
    runner = Runner.from_cfg(cfg)
    runner.train()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return dict(
        toolbox=args.worker, method=args.method, seed=args.seed,
        steps=runner.iter, batch_size=r['batch_size'], recipe=r,
        images=len(runner.train_dataloader.dataset),
        wall_s=time.perf_counter() - start, load_average_start=load,
        cpu_s=usage.ru_utime + usage.ru_stime,
        worker_cpu_s=children.ru_utime + children.ru_stime,
        loss_curve=loss_curve(work_dir),
        checkpoint=osp.join(work_dir, f'iter_{runner.iter}.pth'))


# ---------------------------------------------------------------- driver
def load_results(path: str) -> dict:
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    return dict(runs={}, probes={})


def save_results(results: dict, path: str) -> None:
    """Write ``results`` over what the file holds now, run by run, so a
    probe stage and a training stage may run at the same time."""
    from pixpretrain.utils import atomic_write
    on_disk = load_results(path)
    for part in ('runs', 'probes'):
        on_disk.setdefault(part, {}).update(results.get(part, {}))
        results[part] = on_disk[part]
    atomic_write(json.dumps(results, indent=1).encode(), path)


def run_key(method: str, toolbox: str, seed: int) -> str:
    return f'{method}/{toolbox}/seed{seed}'


def train_pair(args: argparse.Namespace, method: str, seed: int,
               envs: Dict[str, dict], results: dict) -> None:
    """Both toolboxes' runs of one method and seed, side by side (or one
    after the other with ``--sequential``), each in a fresh process."""
    procs = []
    order = TOOLBOXES if seed % 2 == 0 else TOOLBOXES[::-1]
    for toolbox in order:
        key = run_key(method, toolbox, seed)
        if key in results['runs'] and not args.force:
            continue
        run_dir = osp.abspath(osp.join(args.work_dir, key))
        os.makedirs(run_dir, exist_ok=True)
        out = osp.join(run_dir, 'result.json')
        cmd = [sys.executable, osp.abspath(__file__), '--worker', toolbox,
               '--method', method, '--seed', str(seed), '--out', out,
               '--cifar-root', args.cifar_root]
        if args.steps:
            cmd += ['--steps', str(args.steps)]
        if args.batch_size:
            cmd += ['--batch-size', str(args.batch_size)]
        env = dict(envs[toolbox], OMP_NUM_THREADS='1')
        log = open(osp.join(run_dir, 'console.log'), 'w')
        print(f'training {key}', flush=True)
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log,
                                cwd=REPO)
        procs.append((key, proc, out, log))
        if args.sequential:
            proc.wait()
    for _, proc, _, log in procs:
        proc.wait()
        log.close()
    for key, proc, out, _ in procs:
        if proc.returncode != 0:
            raise RuntimeError(f'{key} failed; see '
                               f'{osp.join(osp.dirname(out), "console.log")}')
        with open(out) as f:
            results['runs'][key] = json.load(f)
        save_results(results, args.json)
        run = results['runs'][key]
        print(f'{key}: {run["steps"]} steps in {run["wall_s"] / 60:.1f} min,'
              f' final loss {run["loss_curve"][-1][1]:.4f}', flush=True)


def probe_command(args: argparse.Namespace, config: str,
                  checkpoint: Optional[str], out: str) -> List[str]:
    cmd = [sys.executable, osp.join(REPO, 'tools', 'analysis', 'probe.py'),
           config] + ([checkpoint, '--no-baseline'] if checkpoint else [])
    return cmd + [
        '--layers', 'all', '--data', 'cifar10', '--data-root',
        args.cifar_root, '--train-samples', str(args.probe_train_samples),
        '--test-samples', str(args.probe_test_samples), '--epochs',
        str(args.probe_epochs), '--img-size', '32', '--num-workers', '1',
        '--cache-dir', osp.join(args.work_dir, 'feature_cache'),
        '--out', out]


def probe_run(args: argparse.Namespace, key: str, config: str,
              checkpoint: Optional[str], results: dict) -> None:
    """Probe one checkpoint (None: the random init) with the probe tool;
    a report the tool already wrote for this checkpoint is read again."""
    out = osp.abspath(osp.join(args.work_dir, key, 'probe'))
    if checkpoint and key.split('/')[1] == 'mm':
        converted = osp.join(osp.dirname(out), 'converted.pth')
        if not osp.isfile(converted) or args.force:
            subprocess.run([sys.executable, osp.join(
                REPO, 'tools', 'model_converters',
                'mmpretrain2pixpretrain.py'), checkpoint, converted],
                check=True, cwd=REPO)
        checkpoint = converted
    command = probe_command(args, config, checkpoint, out)
    start = time.perf_counter()
    report = None if args.force else _earlier_probe(out, checkpoint, args)
    if report is None:
        print(f'probing {key}', flush=True)
        subprocess.run(command, check=True, cwd=REPO,
                       env=dict(os.environ, OMP_NUM_THREADS='2'),
                       stdout=subprocess.DEVNULL)
        with open(osp.join(out, 'results.json')) as f:
            report = json.load(f)
    model = report['models']['trained' if checkpoint else 'random-init']
    results['probes'][key] = dict(
        layers=report['layers'], per_layer=model['layers'],
        timing=model['timing'], wall_s=time.perf_counter() - start,
        command=' '.join(command))
    save_results(results, args.json)


def _earlier_probe(out: str, checkpoint: Optional[str],
                   args: argparse.Namespace) -> Optional[dict]:
    """The probe tool's report in ``out`` when it is of this checkpoint, on
    as many images, with as many epochs; else None."""
    path = osp.join(out, 'results.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        report = json.load(f)
    data = report.get('data', {})
    same = (report.get('checkpoint') == (checkpoint and osp.abspath(
        checkpoint)) and report['linear']['epochs'] == args.probe_epochs
        and data.get('train', {}).get('used') == args.probe_train_samples
        and data.get('test', {}).get('used') == args.probe_test_samples)
    return report if same else None


def summary(probe: dict) -> dict:
    """Best-layer linear (and where) and last-layer kNN, in %."""
    rows = probe['per_layer']
    best = max(range(len(rows)), key=lambda i: rows[i]['linear']['test'])
    return dict(best_linear=rows[best]['linear']['test'],
                best_layer=probe['layers'][best],
                last_linear=rows[-1]['linear']['test'],
                **{f'last_knn{k}': v for k, v in rows[-1]['knn'].items()})


def report(results: dict, methods: List[str]) -> List[str]:
    """A Markdown table per method: each run, then each toolbox's mean and
    spread (max - min over seeds)."""
    lines = []
    for method in methods:
        lines += [f'\n{method}', '',
                  '| toolbox | seed | steps | images seen | wall time | '
                  'final loss | best-layer linear | last-layer linear | '
                  'last-layer kNN-20 | kNN-200 |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        per_toolbox: Dict[str, List[dict]] = {}
        for key in sorted(results['probes']):
            if not key.startswith(method + '/'):
                continue
            s = summary(results['probes'][key])
            toolbox, seed = key.split('/')[1:]
            run = results['runs'].get(key)
            if run:
                per_toolbox.setdefault(toolbox, []).append(s)
                cells = [toolbox, seed[4:], str(run['steps']),
                         f"{run['steps'] * run['batch_size']:,}",
                         f"{run['wall_s'] / 60:.1f} min",
                         f"{statistics.mean(v for _, v in run['loss_curve'][-5:]):.4f}"]
            else:
                cells = [toolbox, '–', '0', '0', '–', '–']
            cells += [f"{s['best_linear']:.1f} (layer {s['best_layer']})",
                      f"{s['last_linear']:.1f}", f"{s['last_knn20']:.1f}",
                      f"{s['last_knn200']:.1f}"]
            lines.append('| ' + ' | '.join(cells) + ' |')
        for toolbox, rows in sorted(per_toolbox.items()):
            cells = [f'**{toolbox} mean (spread)**', '', '', '', '', '']
            for name in ('best_linear', 'last_linear', 'last_knn20',
                         'last_knn200'):
                values = [row[name] for row in rows]
                cells.append(f'{statistics.mean(values):.1f} '
                             f'({max(values) - min(values):.1f})')
            lines.append('| ' + ' | '.join(cells) + ' |')
    return lines


def plot_losses(results: dict, method: str, path: str) -> None:
    """Both toolboxes' loss curves, every seed, on the same axes."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    styles = dict(pix=dict(color='tab:blue'), mm=dict(color='tab:orange'))
    # The first steps' losses would flatten the rest: the axis starts
    # its top at the highest loss after the first 5 % of the run.
    later = [loss for run in results['runs'].values()
             if run['method'] == method for step, loss in run['loss_curve']
             if step >= 0.05 * run['steps']]
    names = dict(pix='pixpretrain', mm='mmpretrain 1.2.0')
    for key, run in sorted(results['runs'].items()):
        if run['method'] != method:
            continue
        steps, losses = zip(*run['loss_curve'])
        ax.plot(steps, losses, linestyle='-' if run['seed'] % 2 == 0
                else '--', label=f"{names[run['toolbox']]}, seed "
                f"{run['seed']}", **styles[run['toolbox']])
    if later:
        ax.set_ylim(min(later) - 0.05 * (max(later) - min(later)),
                    max(later) + 0.05 * (max(later) - min(later)))
    ax.set_xlabel('optimizer step')
    ax.set_ylabel('training loss (mean of 10 steps)')
    ax.set_title(dict(mae='MAE ViT-T/4, CIFAR-10',
                      moco='MoCo v2 ResNet-18, CIFAR-10')[method])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = run_worker(args)
        with open(args.out, 'w') as f:
            json.dump(result, f)
        return 0
    if not osp.isdir(osp.join(args.cifar_root, 'train')):
        print(f'no CIFAR-10 image folder at {args.cifar_root}/train: run '
              'bash ../shared/data/get_cifar10.sh and pass --cifar-root',
              file=sys.stderr)
        return 1
    results = load_results(args.json)
    from pixpretrain.apis.analysis.benchmark import cpu_name
    results.setdefault('machine', dict(cores=os.cpu_count(),
                                       cpu=cpu_name()))
    if 'train' in args.stages:
        envs = dict(pix=toolbox_env(), mm=ensure_peer('mmpretrain'))
        for method in args.methods:
            for seed in args.seeds:
                train_pair(args, method, seed, envs, results)
    if 'probe' in args.stages:
        for method in args.methods:
            keys = [run_key(method, t, s) for s in args.seeds
                    for t in TOOLBOXES]
            config = osp.join(args.work_dir, run_key(method, 'pix',
                                                     args.seeds[0]),
                              'pix_config.py')
            baseline = f'{method}/random-init/seed0'
            for key, checkpoint in [(baseline, None)] + [
                    (k, results['runs'][k]['checkpoint']) for k in keys
                    if k in results['runs']]:
                probe_run(args, key, config, checkpoint, results)
    if 'report' in args.stages:
        print('\n'.join(report(results, args.methods)))
        if args.plot_dir:
            for method in args.methods:
                plot_losses(results, method, osp.join(
                    args.plot_dir, f'quality_{method}_loss.png'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
