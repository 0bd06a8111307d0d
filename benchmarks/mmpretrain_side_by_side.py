"""pixpretrain against mmpretrain 1.2.0 on this machine, in the same run.

Installs mmpretrain 1.2.0 into its own folder (``peer_envs.py``: run by
this interpreter, so it uses this environment's torch, mmengine and
mmcv-lite, in a virtual environment or not), generates ImageNet-sized JPEGs
(no download), then alternates the two toolboxes, each in a fresh process:

* MAE training throughput: ViT-S/16 and ViT-B/16 encoders, 224 px, batch 32,
  75 % masking, 8 x 512 decoder with 16 heads, norm-pix loss, both through
  mmengine's Runner and the same benchmark code
  (``tools/analysis/benchmark.py``): images/s, CPU seconds, step split, peak
  memory. ``--precisions fp32 bf16``: fp32 against fp32, and bf16 autocast
  against bf16 autocast (mmpretrain gets pixpretrain's
  ``AutocastOptimWrapper``, since its own ``AmpOptimWrapper`` needs a GPU).
* MoCo v2 training throughput: ResNet-18 with the CIFAR stem (3 x 3 conv, no
  max-pool; mmpretrain's ``ResNet_CIFAR``), plain BN, 2-layer 512-512-128
  MLP neck, queue 4096, T 0.1, m 0.99, SGD, two 32 px views per image of the
  CIFAR-10 JPEG folder (``--cifar-root``), each toolbox's own MoCo and
  augmentation code. Differences that remain: mmpretrain shuffles the key
  batch through its DDP helpers, pixpretrain permutes it in-process;
  pixpretrain feeds channels-last images (its config).
* The MAE ImageNet data pipeline (JPEG -> RandomResizedCrop 224 (0.2, 1)
  bicubic -> flip -> uint8 tensor), in images/s of one worker process with
  one thread: each toolbox's own transforms from its own MAE config.

Alternating (and swapping which toolbox goes first every round) keeps the
ratio fair on a machine whose load changes; the report gives the ratio of
every round and the load average before each measurement. Example (CPU,
about 40 minutes on 2 cores):

    python benchmarks/mmpretrain_side_by_side.py --rounds 3 \
        --json benchmarks/results/cpu.json

mmpretrain imports a few compiled mmcv ops only in modules MAE and MoCo do
not use; with mmcv-lite those imports warn and the models, their data
pipelines and data preprocessors run unchanged.

``--device cuda`` runs the same comparison on the GPU: bf16 is then each
toolbox's own mixed precision (mmengine's ``AmpOptimWrapper`` with
``dtype='bfloat16'`` and mmpretrain's dynamic loss scale, against
pixpretrain's ``--amp``), the step split is off (its synchronisations would
slow the GPU down), and ``--preload N`` times the model on N batches drawn
through each toolbox's pipeline and replayed from memory, where JPEG decoding
could not feed the GPU. ``--task loader`` workers time a toolbox's whole
data loader with ``--num-workers`` processes.
``benchmarks/gpu_device_check.sh`` runs these workers on a lent GPU
machine.
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

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from peer_envs import CACHE, CIFAR, ensure_peer  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# ViT-S/16 is DeiT-S (384 wide, 12 blocks, 6 heads); mmpretrain's own 's'
# arch is a different, 768-wide 8-block model, so its DeiT name is used.
ARCHS = dict(s=dict(pix='s', mm='deit-small', width=384),
             b=dict(pix='b', mm='b', width=768))
MM_MAE_CONFIG = 'mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'
MM_MOCO_CONFIG = 'mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
# Training images listed per MoCo run (both toolboxes), instead of 50,000.
MOCO_IMAGES = 2048
DEVICES = ('cpu', 'cuda')
# Worker tasks: MAE training, MoCo training, one pipeline worker's images/s,
# a whole data loader's images/s (``--num-workers`` processes).
TASKS = ('model', 'moco', 'pipeline', 'loader')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--peer-root', default=CACHE,
                        help='folder holding mmpretrain 1.2.0 (installed '
                        'there on first use, see peer_envs.py)')
    parser.add_argument('--rounds', type=int, default=3,
                        help='alternations of the two toolboxes')
    parser.add_argument('--archs', nargs='+', default=['s', 'b'],
                        choices=list(ARCHS))
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--iters', type=int, nargs='+', default=[3, 2],
                        help='timed iterations for ViT-S and ViT-B (one '
                        'value: both)')
    parser.add_argument('--warmup', type=int, nargs='+', default=[2, 1],
                        help='warm-up iterations for ViT-S and ViT-B')
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16'],
                        help='bf16: autocast for both toolboxes (CPU with '
                        'native bf16 or GPU)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads of the training processes '
                        '(default: torch\'s own choice)')
    parser.add_argument('--device', choices=DEVICES, default='cpu',
                        help='where the training processes run: cpu hides '
                        'any GPU from them; cuda needs one')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step of both '
                        'toolboxes')
    parser.add_argument('--compile-backend', default='inductor',
                        help='torch.compile backend with --compile')
    parser.add_argument('--preload', type=int, default=0, metavar='N',
                        help='time the model on N batches drawn through the '
                        'pipeline and replayed from memory (no decoding in '
                        'the timed steps)')
    parser.add_argument('--pipeline-images', type=int, default=200,
                        help='JPEGs decoded per pipeline round')
    parser.add_argument('--cifar-root', default=CIFAR,
                        help='CIFAR-10 image folder (train/<class>/*.jpg) for '
                        'MoCo; skipped when missing')
    parser.add_argument('--moco-batch-size', type=int, default=64)
    parser.add_argument('--moco-iters', type=int, default=4)
    parser.add_argument('--moco-warmup', type=int, default=2)
    parser.add_argument('--skip-model', action='store_true',
                        help='skip MAE training')
    parser.add_argument('--skip-moco', action='store_true')
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--json', default=None, help='write all results')
    parser.add_argument('--report', nargs='+', metavar='JSON',
                        help='only print the tables of earlier runs, merged '
                        '(with --json: write the merged results)')
    # internal: one measurement in this process
    parser.add_argument('--worker', choices=['pix', 'mm'], default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument('--task', choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument('--precision', default='fp32',
                        help=argparse.SUPPRESS)
    parser.add_argument('--arch', help=argparse.SUPPRESS)
    parser.add_argument('--data-root', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --------------------------------------------------------------- set-up
def select_device(device: str) -> None:
    """Run this process's torch work on ``device``.

    'cpu' hides every GPU (before torch first looks for one), so the CPU
    settings (threads, CPU seconds) are never timed on a GPU by accident;
    'cuda' refuses to start without a GPU rather than time the CPU.
    """
    if device not in DEVICES:
        raise ValueError(f'device {device!r}: expected one of {DEVICES}')
    if device == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
        return
    import torch
    if not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch sees no GPU on this machine')


# --------------------------------------------------------------- workers
def _benchmark_args(args: argparse.Namespace, arch_index: int = 0):
    from pixpretrain.apis.analysis import benchmark

    def pick(values: List[int]) -> int:
        return values[min(arch_index, len(values) - 1)]

    if args.task == 'moco':
        iters, warmup, batch = (args.moco_iters, args.moco_warmup,
                                args.moco_batch_size)
    else:
        iters, warmup, batch = (pick(args.iters), pick(args.warmup),
                                args.batch_size)
    extra = ['--amp'] if args.precision == 'bf16' else []
    if args.device == 'cuda':
        # The split synchronises the GPU three times a step and lets its
        # queue run dry; on a GPU only whole steps are timed.
        extra.append('--no-split')
    if args.compile:
        extra += ['--compile', '--compile-backend', args.compile_backend]
    if args.preload:
        extra += ['--preload', str(args.preload)]
    return benchmark.parse_args([
        'unused', '--iters', str(iters), '--warmup', str(warmup),
        '--batch-size', str(batch), '--num-workers', str(args.num_workers),
        '--data-root', args.data_root
    ] + extra)


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


def pix_moco_config(data_root: str):
    """configs/mocov2/resnet18_cifar10.py made as equal to
    :func:`mm_moco_config` as the two toolboxes allow."""
    from mmengine.config import Config
    path = osp.join(REPO, 'configs', 'mocov2', 'resnet18_cifar10.py')
    cfg = Config.fromfile(path)
    cfg.model.backbone.norm_cfg = dict(type='BN')  # no split-BN
    cfg.model.neck.num_layers = 2  # mmpretrain's MoCoV2Neck: fc-relu-fc
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.dataset.indices = MOCO_IMAGES
    return cfg, path


def mm_config_path(name: str = MM_MAE_CONFIG) -> str:
    import mmpretrain
    return osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                    name)


def _mm_precision(cfg, precision: str, device: str = 'cpu') -> None:
    """fp32 (OptimWrapper), or bf16: on a GPU mmengine's AmpOptimWrapper
    with ``dtype='bfloat16'`` (keeping the config's loss scale, as
    mmpretrain's MAE recipe runs; pixpretrain's ``--amp`` keeps a dynamic
    scaler too); on a CPU bf16 autocast through pixpretrain's
    AutocastOptimWrapper: mmengine's AmpOptimWrapper refuses to start
    without a GPU, and this gives both toolboxes the same autocast."""
    if device == 'cuda' and precision == 'bf16':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
        return
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.optim_wrapper.pop('dtype', None)
    cfg.optim_wrapper.type = 'OptimWrapper'
    if precision == 'bf16':
        from mmpretrain.registry import OPTIM_WRAPPERS

        from pixpretrain.engine.optimizers import AutocastOptimWrapper
        OPTIM_WRAPPERS.register_module(module=AutocastOptimWrapper,
                                       force=True)
        cfg.optim_wrapper.type = 'AutocastOptimWrapper'


def mm_model_config(arch: str, data_root: str, precision: str = 'fp32',
                    device: str = 'cpu'):
    from mmengine.config import Config
    cfg = Config.fromfile(mm_config_path())
    cfg.model.backbone.arch = ARCHS[arch]['mm']
    cfg.model.neck.embed_dim = ARCHS[arch]['width']
    _mm_precision(cfg, precision, device)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=data_root, with_label=False,
        pipeline=cfg.train_dataloader.dataset.pipeline)
    cfg.auto_scale_lr = dict(base_batch_size=4096, enable=False)
    cfg.resume = False
    return cfg


def mm_moco_view() -> list:
    """The MoCo CIFAR demo's view in mmpretrain's transforms: crop (0.08,
    1) to 32 px, flip, colour jitter p 0.8, grey p 0.2."""
    return [
        dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.08, 1.),
             backend='pillow'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomApply', prob=0.8, transforms=[dict(
            type='ColorJitter', brightness=0.4, contrast=0.4,
            saturation=0.4, hue=0.1)]),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
    ]


def mm_moco_config(data_root: str, precision: str = 'fp32',
                   device: str = 'cpu'):
    """mmpretrain's MoCo v2 config with pixpretrain's CIFAR recipe put in:
    ResNet_CIFAR-18, plain BN, MoCoV2Neck 512-512-128, queue 4096, T 0.1,
    m 0.99, SGD lr 0.06 wd 5e-4, the CIFAR demo's views at 32 px."""
    from mmengine.config import Config
    cfg = Config.fromfile(mm_config_path(MM_MOCO_CONFIG))
    model = cfg.model
    model.queue_len, model.feat_dim = 4096, 128
    model.momentum = 0.01  # mmpretrain's EMA weight of the new value: 1 - m
    model.backbone = dict(type='ResNet_CIFAR', depth=18,
                          norm_cfg=dict(type='BN'), zero_init_residual=False)
    model.neck = dict(type='MoCoV2Neck', in_channels=512, hid_channels=512,
                      out_channels=128, with_avg_pool=True)
    model.head.temperature = 0.1
    model.data_preprocessor = dict(
        type='SelfSupDataPreprocessor', to_rgb=True,
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255])
    view = mm_moco_view()
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=osp.join(data_root, 'train'),
        with_label=False, indices=MOCO_IMAGES, pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[view]),
            dict(type='PackInputs')
        ])
    cfg.optim_wrapper.optimizer = dict(type='SGD', lr=0.06, momentum=0.9,
                                       weight_decay=5e-4)
    _mm_precision(cfg, precision, device)
    cfg.auto_scale_lr = dict(base_batch_size=512, enable=False)
    cfg.resume = False
    return cfg


def patch_mmcv_hue_for_numpy2() -> None:
    """mmcv 2.2's ``adjust_hue`` shifts the hue channel by
    ``np.uint8(hue_factor * 255)``; numpy 2 refuses a negative value there,
    where numpy 1 wrapped it around modulo 256, the hue rotation mmcv
    intends. This is the same function with the wrap written out (its
    pillow and cv2 branches), so mmpretrain's ColorJitter runs as on
    numpy 1."""
    import cv2
    import mmcv
    import numpy as np
    from PIL import Image

    def adjust_hue(img, hue_factor: float, backend=None):
        if not -0.5 <= hue_factor <= 0.5:
            raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5]')
        shift = np.uint8(int(hue_factor * 255) % 256)  # C cast, then wrap
        if (backend or mmcv.imread_backend) == 'pillow':
            pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
            h, s, v = pil_image.convert('HSV').split()
            np_h = np.array(h, dtype=np.uint8) + shift
            pil_image = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v))
            rgb = np.array(pil_image.convert('RGB'), dtype=img.dtype)
            return rgb[..., ::-1]
        dtype = img.dtype
        h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8),
                                         cv2.COLOR_BGR2HSV_FULL))
        hsv_img = cv2.merge([h.astype(np.uint8) + shift, s, v])
        return cv2.cvtColor(hsv_img, cv2.COLOR_HSV2BGR_FULL).astype(dtype)

    mmcv.adjust_hue = adjust_hue


def run_model_worker(args: argparse.Namespace) -> dict:
    """One training measurement (MAE or MoCo) of one toolbox."""
    from pixpretrain.apis.analysis import benchmark
    from mmengine.runner import Runner
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    moco = args.task == 'moco'
    bench_args = _benchmark_args(
        args, 0 if moco else list(ARCHS).index(args.arch))
    if args.worker == 'pix':
        from pixpretrain.apis import prepare_train_config
        cfg, path = (pix_moco_config(args.data_root) if moco else
                     pix_model_config(args.arch))
        cfg = benchmark.configure(cfg, bench_args)
        cfg = prepare_train_config(cfg, path, cfg.work_dir,
                                   amp=bench_args.amp)
    else:
        patch_mmcv_hue_for_numpy2()
        cfg = (mm_moco_config(args.data_root, args.precision, args.device)
               if moco else mm_model_config(args.arch, args.data_root,
                                            args.precision, args.device))
        cfg = benchmark.configure(cfg, bench_args)
        path = MM_MOCO_CONFIG if moco else MM_MAE_CONFIG
    cfg.experiment_name = f'{args.worker}-{args.task}-{os.getpid()}'
    runner = Runner.from_cfg(cfg)
    result = benchmark.measure(runner, bench_args, path)
    if result['precision'] != args.precision:
        raise RuntimeError(f'{args.worker} trained in {result["precision"]}'
                           f', not {args.precision}')
    return result


def run_pipeline_worker(args: argparse.Namespace) -> dict:
    """Images/s of one worker: ``dataset[i]`` over every JPEG, one thread."""
    import cv2
    import numpy as np
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.worker == 'pix':
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


def loader_config(worker: str, arch: str, data_root: str):
    """A toolbox's own MAE training config, its data loader reading the
    images in ``data_root``, and the registry scope it is built in."""
    if worker == 'pix':
        cfg, _ = pix_model_config(arch)
        cfg.train_dataloader.dataset.data_root = data_root
        return cfg, 'pixpretrain'
    return mm_model_config(arch, data_root), 'mmpretrain'


def run_loader_worker(args: argparse.Namespace) -> dict:
    """Images/s of a toolbox's whole MAE data loader, as training runs it:
    ``--num-workers`` processes, ``--batch-size``, pinned memory on a GPU
    machine, an endless shuffled sampler. The first ``--warmup`` batches
    (worker start-up) are not timed; the next ``--iters`` are.

    Says whether decoding and augmentation could feed the model's images/s
    on this machine; the model itself is timed apart (``--preload``).
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmengine.utils.dl_utils import set_multi_processing
    full_cfg, scope = loader_config(args.worker, args.arch, args.data_root)
    # What the Runner sets up before it builds a loader (OpenCV threads in
    # the workers, the start method), from the toolbox's own config.
    set_multi_processing(**full_cfg.get('env_cfg', {}).get('mp_cfg', {}))
    cfg = full_cfg.train_dataloader
    cfg.update(batch_size=args.batch_size, num_workers=args.num_workers,
               persistent_workers=False, pin_memory=args.device == 'cuda',
               sampler=dict(type='InfiniteSampler', shuffle=True))
    init_default_scope(scope)
    loader = Runner.build_dataloader(cfg, seed=0)
    warmup, iters = args.warmup[0], args.iters[0]
    batches = iter(loader)
    start = time.perf_counter()
    for _ in range(warmup):
        next(batches)
    ready = time.perf_counter()
    for _ in range(iters):
        batch = next(batches)
    seconds = time.perf_counter() - ready
    del batches  # stops the worker processes
    images = iters * args.batch_size
    inputs = batch['inputs']
    if isinstance(inputs, (list, tuple)):  # pseudo_collate: one per image
        inputs = inputs[0]
    return dict(images=images, seconds=seconds, images_per_s=images / seconds,
                workers=args.num_workers,
                images_per_s_per_worker=images / seconds /
                max(args.num_workers, 1),
                warmup_batches=warmup, warmup_s=ready - start,
                batch_size=args.batch_size, pin_memory=cfg.pin_memory,
                cpu_cores=os.cpu_count(),
                output=f'{tuple(inputs.shape)} {inputs.dtype}',
                transforms=[t['type'] for t in cfg.dataset.pipeline])


# --------------------------------------------------------------- driver
def launch(env: Dict[str, str], args: argparse.Namespace, worker: str,
           task: str, data_root: str, arch: str = 'b',
           precision: str = 'fp32') -> dict:
    """Run one measurement in a fresh process of this interpreter with
    ``env`` (the toolbox's import path); its result plus the load average
    just before it started."""
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as f:
        out = f.name
    cmd = [sys.executable, osp.abspath(__file__), '--worker', worker, '--task', task,
           '--arch', arch, '--precision', precision, '--data-root', data_root,
           '--out', out, '--batch-size', str(args.batch_size),
           '--num-workers', str(args.num_workers),
           '--iters', *map(str, args.iters),
           '--warmup', *map(str, args.warmup),
           '--moco-batch-size', str(args.moco_batch_size),
           '--moco-iters', str(args.moco_iters),
           '--moco-warmup', str(args.moco_warmup),
           '--device', args.device, '--preload', str(args.preload)]
    if args.compile:
        cmd += ['--compile', '--compile-backend', args.compile_backend]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    env = dict(env, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO, env.get('PYTHONPATH')])))
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise RuntimeError(f'{worker} {task} {arch} {precision} failed')
    with open(out) as f:
        result = json.load(f)
    os.unlink(out)
    result['load_average_1min'] = load
    return result


def summarise(runs: Dict[str, List[dict]]) -> dict:
    """Per-round ratios pixpretrain / mmpretrain of completed rounds."""
    summary = dict(runs=runs)
    for key in ('images_per_s', 'images_per_cpu_s'):
        ratios = [p[key] / m[key] for p, m in zip(runs['pix'], runs['mm'])
                  if key in p and key in m]
        if ratios:
            summary[key] = dict(ratios=ratios,
                                median=statistics.median(ratios),
                                range=[min(ratios), max(ratios)])
    return summary


def alternate(envs: Dict[str, Dict[str, str]], args, task: str,
              data_root: str, arch: str = 'b', save: Callable[[dict], None] = None,
              precision: str = 'fp32') -> dict:
    """``rounds`` measurements of each toolbox, first one swapped per round.

    ``save`` receives the summary so far after every measurement, so a run
    cut short keeps its completed rounds.
    """
    runs = {'pix': [], 'mm': []}
    for r in range(args.rounds):
        order = ('pix', 'mm') if r % 2 == 0 else ('mm', 'pix')
        for worker in order:
            result = launch(envs[worker], args, worker, task, data_root,
                            arch, precision)
            runs[worker].append(result)
            print(f'  round {r + 1}/{args.rounds} {worker:3s} {task} {arch} '
                  f'{precision}: {result["images_per_s"]:.2f} img/s, load '
                  f'{result["load_average_1min"]:.1f}', flush=True)
            if save:
                save(summarise(runs))
    return summarise(runs)


def cross_precision(results: dict, pix_key: str, mm_key: str) -> dict:
    """Round-by-round ratios of pixpretrain at one precision to mmpretrain at
    another (e.g. our bf16 against their fp32, what each runs on a CPU out
    of the box), from two series measured in the same rounds."""
    return summarise(dict(pix=results[pix_key]['runs']['pix'],
                          mm=results[mm_key]['runs']['mm']))


def _median(runs: List[dict], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float('nan')


def _row(name: str, res: dict, memory: bool) -> str:
    pix, mm = res['runs']['pix'], res['runs']['mm']
    cells = [name]
    for key in ('images_per_s', 'images_per_cpu_s'):
        ratio = res.get(key)
        rounds = ' / '.join(f'{r:.2f}' for r in ratio['ratios']) \
            if ratio else '-'
        cells += [f'{_median(pix, key):.2f}', f'{_median(mm, key):.2f}',
                  f'**{ratio["median"]:.2f}** ({rounds})' if ratio else '-']
    if memory:
        cells.append(f'{_median(pix, "peak_memory_mib") / 1024:.2f} / '
                     f'{_median(mm, "peak_memory_mib") / 1024:.2f}')
    loads = [r['load_average_1min'] for r in pix + mm
             if 'load_average_1min' in r]
    cells.append(f'{min(loads):.1f}-{max(loads):.1f}' if loads else '-')
    return '| ' + ' | '.join(cells) + ' |'


PRECISION_LABELS = dict(fp32='fp32 vs fp32', bf16='bf16 vs bf16')


def training_rows(results: dict) -> List[str]:
    """Markdown rows of the training comparisons: each precision against the
    same precision, then pixpretrain bf16 against mmpretrain fp32 (what each
    runs on a CPU out of the box) where both were measured."""
    series = []  # (name, precision, group, key)
    for key in results.get('model', {}):
        arch, _, precision = key.partition('-')
        series.append((f'MAE ViT-{arch.upper()}/16', precision or 'fp32',
                       results['model'], key))
    for precision in results.get('moco', {}):
        series.append(('MoCo v2 R-18 CIFAR', precision, results['moco'],
                       precision))
    rows = []
    for name, precision, group, key in series:
        rows.append(_row(f'{name}, {PRECISION_LABELS[precision]}',
                         group[key], True))
        fp32_key = key.replace('bf16', 'fp32')
        if precision == 'bf16' and fp32_key in group:
            rows.append(_row(f'{name}, pix bf16 vs mm fp32',
                             cross_precision(group, key, fp32_key), True))
    return rows


def merge_runs(paths: List[str]) -> dict:
    """Several runs' results as one (later files win on equal keys), each
    run's own settings and load kept under ``parts``."""
    merged: dict = dict(parts=[])
    for path in paths:
        with open(path) as f:
            results = json.load(f)
        part = {k: v for k, v in results.items()
                if k not in ('model', 'moco', 'pipeline', 'parts')}
        part['measured'] = [k for k in ('pipeline', 'model', 'moco')
                            if k in results]
        for key in ('model', 'moco'):
            if key in results:
                merged.setdefault(key, {}).update(results[key])
                part['measured'][part['measured'].index(key)] = {
                    key: sorted(results[key])}
        if 'pipeline' in results:
            merged['pipeline'] = results['pipeline']
        merged['parts'] += results.get('parts', [part])
    return merged


def usable_precisions(precisions: List[str], device: str,
                      native_bf16: bool) -> List[str]:
    """``precisions`` without bf16 on a CPU that would only emulate it.

    There pixpretrain's ``--amp`` trains in fp32 (autocast would be slower)
    while mmpretrain would get the emulated autocast: a "bf16 vs bf16" row
    would compare fp32 with emulated bf16.

    Raises:
        SystemExit: Nothing is left to measure.
    """
    if device == 'cuda' or native_bf16 or 'bf16' not in precisions:
        return precisions
    kept = [p for p in precisions if p != 'bf16']
    print('bf16 skipped: this CPU has no native bf16 (AVX512-BF16 or AMX); '
          'torch would emulate it', flush=True)
    if not kept:
        raise SystemExit('--precisions bf16: this CPU has no native bf16; '
                         'use fp32 or a CPU with AVX512-BF16 / AMX')
    return kept


def report(results: dict) -> None:
    head = ('| | pix img/s | mm img/s | ratio: median (rounds) | '
            'pix img/CPU-s | mm img/CPU-s | ratio: median (rounds) |')
    rows = training_rows(results)
    if rows:
        print('\n' + head + ' peak RSS pix / mm (GiB) | load |')
        print('|---' * 9 + '|')
        print('\n'.join(rows))
    if 'pipeline' in results:
        print('\n' + head + ' load |\n' + '|---' * 8 + '|')
        print(_row('pipeline, one worker', results['pipeline'], False))


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not args.report:
        select_device(args.device)
    if args.worker:
        runner = dict(pipeline=run_pipeline_worker,
                      loader=run_loader_worker).get(args.task,
                                                    run_model_worker)
        result = runner(args)
        with open(args.out, 'w') as f:
            json.dump(result, f)
        return result

    if args.report:
        results = merge_runs(args.report)
        report(results)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(results, f, indent=2)
        return results
    from pixpretrain.apis.analysis import benchmark
    import torch

    from pixpretrain.engine.optimizers import cpu_has_native_bf16
    native_bf16 = cpu_has_native_bf16()
    args.precisions = usable_precisions(args.precisions, args.device,
                                        native_bf16)
    envs = dict(pix=dict(os.environ),
                mm=ensure_peer('mmpretrain', args.peer_root))
    results = dict(started=time.strftime('%Y-%m-%d %H:%M'),
                   rounds=args.rounds, load_average=os.getloadavg(),
                   cpu=benchmark.cpu_name(), cores=os.cpu_count(),
                   cpu_capability=torch.backends.cpu.get_cpu_capability(),
                   native_bf16=native_bf16, threads=args.threads,
                   argv=sys.argv[1:])
    if args.device == 'cuda':
        results['gpu'] = benchmark.device_name()

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
            results['pipeline'] = alternate(envs, args, 'pipeline', root,
                                            save=saver('pipeline'))
        if not args.skip_model:
            # Batches drawn per run: the preloaded ones, else every step's.
            steps = args.preload or max(args.iters) + max(args.warmup)
            count = args.batch_size * (steps + 1)
            benchmark.make_fake_jpegs(root, max(count, args.pipeline_images))
            for arch in args.archs:
                for precision in args.precisions:
                    key = f'{arch}-{precision}'
                    print(f'MAE ViT-{arch.upper()}/16 {precision}', flush=True)
                    alternate(envs, args, 'model', root, arch,
                              saver('model', key), precision)
    if not args.skip_moco:
        if osp.isdir(osp.join(args.cifar_root, 'train')):
            for precision in args.precisions:
                print(f'MoCo v2 ResNet-18 CIFAR {precision}', flush=True)
                alternate(envs, args, 'moco', args.cifar_root, 'b',
                          saver('moco', precision), precision)
        else:
            print(f'MoCo skipped: no {args.cifar_root}/train image folder '
                  '(see docs/data_preparation.md)', flush=True)
    results['load_average_end'] = os.getloadavg()
    report(results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
