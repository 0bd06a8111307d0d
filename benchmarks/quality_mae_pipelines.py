"""Do pixpretrain's and mmpretrain's MAE training pipelines feed the same
pixels, and does a trained model see a different loss on them?

``quality_side_by_side.py`` found pixpretrain's MAE training loss 2-5 %
above mmpretrain's from step ~250 on, while its probes were not below. The
pipelines differ in code: pixpretrain crops and resizes with torch's
antialiased bicubic (Pillow's kernel), mmpretrain's recipe with Pillow. This script draws
the same images (every ``50000 / --images``-th file of the CIFAR-10
training folder, matched by path) through each toolbox's own training
pipeline, ``--repeats`` times, with numpy, random and torch seeded alike
(both crops are torchvision's algorithm on numpy's generator, so the same
seed gives the same boxes), then scores ONE trained pixpretrain MAE on both
sets with the same masks:

    python benchmarks/quality_mae_pipelines.py \
        work_dirs/quality/mae/pix/seed0/pix_config.py \
        work_dirs/quality/mae/pix/seed0/iter_800.pth
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(HERE)
sys.path.insert(0, HERE)

from peer_envs import (CIFAR, ensure_peer, peer_folder,  # noqa: E402
                       toolbox_env)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--cifar-root', default=CIFAR)
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--repeats', type=int, default=4)
    parser.add_argument('--worker', choices=['pix', 'mm'],
                        help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def relative_paths(data_root: str, count: int) -> list:
    """Every (total / count)-th training image, as 'class/file.jpg'."""
    train = osp.join(data_root, 'train')
    paths = sorted(osp.join(c, f) for c in os.listdir(train)
                   for f in os.listdir(osp.join(train, c)))
    return paths[::max(1, len(paths) // count)][:count]


def draw(args: argparse.Namespace) -> None:
    """Draw ``repeats`` pipeline outputs per image; save (N, 3, 32, 32)
    uint8 RGB."""
    import torch
    from mmengine.registry import init_default_scope
    import quality_side_by_side as quality
    r = quality.RECIPES['mae']
    if args.worker == 'pix':
        from pixpretrain.registry import DATASETS, register_all_modules
        register_all_modules()
        cfg = quality.pix_config('mae', r, 0, args.cifar_root, '/tmp')
    else:
        from mmpretrain.registry import DATASETS
        init_default_scope('mmpretrain')
        cfg = quality.mm_config('mae', r, 0, args.cifar_root, '/tmp')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    wanted = relative_paths(args.cifar_root, args.images)
    where = {}
    for i in range(len(dataset)):
        path = dataset.get_data_info(i)['img_path']
        where[osp.relpath(path, osp.join(args.cifar_root, 'train'))] = i
    torch.manual_seed(0)
    import numpy as np
    import random
    np.random.seed(0)
    random.seed(0)
    images = []
    for _ in range(args.repeats):
        for path in wanted:
            image = dataset[where[path]]['inputs']
            if isinstance(image, list):
                image = image[0]
            # mmpretrain loads BGR and flips in its data preprocessor.
            images.append(image.flip(0) if args.worker == 'mm' else image)
    torch.save(torch.stack(images), args.out)


def masked_loss(model, images) -> float:
    """Mean masked-patch loss of ``model`` over ``images``, the same masks
    for every call (seeded)."""
    import torch
    torch.manual_seed(0)
    losses = []
    with torch.no_grad():
        for batch in images.split(250):
            data = model.data_preprocessor(dict(inputs=batch))
            losses.append(model.loss(data['inputs'], [])['loss'].item())
    return sum(losses) / len(losses)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        draw(args)
        return 0
    import torch

    from pixpretrain.apis import init_model
    ensure_peer('mmpretrain')
    envs = dict(pix=toolbox_env(), mm=toolbox_env(peer_folder('mmpretrain')))
    images = {}
    with tempfile.TemporaryDirectory() as tmp:
        for toolbox, env in envs.items():
            out = osp.join(tmp, f'{toolbox}.pt')
            subprocess.run([sys.executable, osp.abspath(__file__), '--worker',
                            toolbox, '--out', out, '--cifar-root',
                            args.cifar_root, '--images', str(args.images),
                            '--repeats', str(args.repeats)],
                           env=env, check=True, cwd=REPO)
            images[toolbox] = torch.load(out)
    model = init_model(args.config, args.checkpoint).eval()
    losses = {t: masked_loss(model, batch) for t, batch in images.items()}
    difference = (images['pix'].float() - images['mm'].float()).abs().mean()
    print(f'mean |pix - mm| pixel difference: {difference.item():.4f} (of '
          f'255) over {len(images["pix"])} drawn images')
    for toolbox, loss in losses.items():
        print(f'{toolbox} pipeline: masked loss {loss:.4f}')
    print(f'ratio pix / mm: {losses["pix"] / losses["mm"]:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
