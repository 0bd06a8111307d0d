"""Training throughput of a config on this machine, through mmengine's Runner.

Runs warm-up plus timed iterations of the real training step (data loading,
forward, backward, optimizer) and reads mmengine's IterTimerHook records:
images/s, step time, and the share of it spent waiting for data.

Example:
    python tools/analysis/benchmark.py configs/mae/vit-b_800e.py \
        --fake-images 512 --batch-size 32 --iters 20 --warmup 5 \
        --cfg-options model.backbone.arch=s model.neck.encoder_dims=384
"""
import argparse
import json
import os
import platform
import resource
import sys
import tempfile

import numpy as np
from mmengine.config import Config, DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed iterations')
    parser.add_argument('--warmup', type=int, default=5,
                        help='iterations run before timing')
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--num-workers', type=int, default=None)
    parser.add_argument('--data-root', default=None,
                        help='image folder replacing the config data root')
    parser.add_argument(
        '--fake-images', type=int, default=0, metavar='N',
        help='generate N JPEGs of 500x375 (ImageNet-like size) and train on '
        'them; nothing is downloaded')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


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


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmengine.runner import Runner

    from pixpretrain.apis import prepare_train_config

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    tmp = None
    if args.fake_images:
        tmp = tempfile.TemporaryDirectory()
        make_fake_jpegs(tmp.name, args.fake_images)
        args.data_root = tmp.name
    loader = cfg.train_dataloader
    if args.data_root:
        loader.dataset.data_root = args.data_root
    if args.batch_size:
        loader.batch_size = args.batch_size
    if args.num_workers is not None:
        loader.num_workers = args.num_workers
        loader.persistent_workers = args.num_workers > 0
    total = args.warmup + args.iters
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=total)
    cfg.param_scheduler = []
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(
        1, total // 4))
    cfg.resume, cfg.load_from = False, None
    # Training throughput only: no validation (e.g. a kNN monitor) at the end.
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg[key] = None
    work_dir = tempfile.mkdtemp(prefix='pixpretrain-bench-')
    cfg = prepare_train_config(cfg, args.config, work_dir, None, args.amp,
                               False, 'none')
    runner = Runner.from_cfg(cfg)
    runner.train()

    hub = runner.message_hub
    step = np.array(hub.get_scalar('train/time').data[0][args.warmup:])
    data = np.array(hub.get_scalar('train/data_time').data[0][args.warmup:])
    batch = loader.batch_size
    result = dict(
        config=args.config,
        device=(torch.cuda.get_device_name()
                if torch.cuda.is_available() else
                f'CPU ({platform.processor() or platform.machine()}, '
                f'{torch.get_num_threads()} threads)'),
        batch_size=batch,
        num_workers=loader.num_workers,
        timed_iters=len(step),
        images_per_s=batch / step.mean(),
        step_time_s=step.mean(),
        data_wait_share=data.mean() / step.mean(),
        peak_memory_mib=(torch.cuda.max_memory_allocated() / 2**20
                         if torch.cuda.is_available() else
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss /
                         1024),
        memory_kind=('CUDA max allocated' if torch.cuda.is_available() else
                     'peak RSS of the main process, workers excluded'),
        torch=torch.__version__)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == '__main__':
    main(sys.argv[1:])
