"""Peak resident memory of a 12-layer probe against the size of its data,
and the per-image costs that predict a ViT-B probe of ImageNet-1k.

Each size runs in a fresh process: ``run_probe`` on CIFAR-10 training
images repeated to N (``LabelledSplits`` over an index wrapper, so the
images are decoded on demand and never all held), a fixed test split, a
12-block ViT of width 64 (patch 4, 32 px) at its random init, linear (one
epoch) and kNN-20 on every block. The child reports its peak resident set
(``ru_maxrss``), its resident set before the probe, the seconds of each
phase and the cache's size on disk.

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/probe_memory.py \
        --data-root ~/.cache/pixpretrain/cifar10 --sizes 1000,10000,100000 \
        --out benchmarks/results/probe_memory.json \
        --plot docs/images/probe_memory.png

``--vit-b`` instead times, on this machine, a ViT-B/16 forward pass at
224 px (all 12 blocks pooled), one linear-probe step of 12 layers x 4
weight decays x 1000 classes at width 768 read from the float16 cache,
and one kNN similarity block of width 768.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Repeated(torch.utils.data.Dataset):
    """``base`` repeated to ``length`` samples (index modulo its size)."""

    def __init__(self, base, length):
        self.base, self.length = base, length

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return self.base[index % len(self.base)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open('/proc/self/status') as f:
        line = next(x for x in f if x.startswith('VmRSS'))
    return int(line.split()[1]) / 1024


def model_config(width=64):
    from mmengine.config import Config
    cfg = Config.fromfile(os.path.join(REPO,
                                       'configs/mae/vit-t-p4_cifar10.py'))
    cfg.model.backbone.arch = dict(embed_dims=width, num_layers=12,
                                   num_heads=2, mlp_ratio=2.0)
    cfg.model.neck.encoder_dims = width
    return cfg


def child(args) -> dict:
    from pixpretrain.applications.probe import (LabelledSplits,
                                                ProbeSettings,
                                                build_probe_splits,
                                                run_probe)
    train, test, _ = build_probe_splits(
        'cifar10', (32, 32), args.data_root, min(args.child, 10000),
        args.test)
    data = LabelledSplits(Repeated(train, args.child), test, 10,
                          cache_id=f'cifar10-repeated-{args.child}',
                          name=f'CIFAR-10 x {args.child}')
    with tempfile.TemporaryDirectory(dir=args.tmp) as cache:
        before = rss_mb()
        report = run_probe(ProbeSettings(
            model_config(), data=data, layers='all', epochs=1,
            knn_ks=(20, ), batch_size=256, num_workers=0, cache_dir=cache,
            baseline=True))
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(cache) for f in files)
    timing = report['models']['random-init']['timing']
    return dict(n=args.child, test=args.test, rss_before_mb=before,
                peak_rss_mb=peak_rss_mb(), cache_mb=size / 2**20,
                extraction_s=timing['extraction_s'],
                linear_s=timing['linear_s'], knn_s=timing['knn_s'],
                best_linear=max(r['linear']['test'] for r in
                                report['models']['random-init']['layers']))


def timed(work) -> tuple:
    """Wall and CPU seconds of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def cpu_name() -> str:
    with open('/proc/cpuinfo') as f:
        return next((line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')), platform.machine())


def vit_b_costs(args) -> dict:
    from pixpretrain.apis import extract_features
    from pixpretrain.applications.probe import (FeatureCache,
                                                StandardisedRows, knn_probe,
                                                random_init,
                                                train_softmax_classifiers)
    model, _ = random_init(os.path.join(REPO, 'configs/mae/vit-b_800e.py'))
    images = torch.randint(0, 256, (8, 3, 224, 224), dtype=torch.uint8)
    with torch.no_grad():
        extract_features(model, images[:2], list(range(12)), 'avg')
        forward = timed(lambda: [extract_features(
            model, images, list(range(12)), 'avg') for _ in range(2)])
    forward = [t / 16 for t in forward]
    n, width, classes = 4096, 768, 1000
    with tempfile.TemporaryDirectory(dir=args.tmp) as root:
        cache = FeatureCache(root, shard_size=n)
        sources = []
        for layer in range(12):
            cache.create(str(layer), n, width)
            cache.write_rows(str(layer), 0, torch.randn(n, width),
                             torch.randint(0, classes, (n, )))
            sources.append(cache.open(str(layer)))
        labels = cache.labels('0')
        rows = StandardisedRows(sources, torch.arange(n),
                                torch.zeros(12, width), torch.ones(12, width))
        linear = timed(lambda: train_softmax_classifiers(
            rows, labels, torch.zeros(12, 4), classes, epochs=1,
            batch_size=256))
        knn = timed(lambda: knn_probe(
            sources[:1], labels, [sources[0][:2048]], labels[:2048],
            classes, ks=(20, )))
    # [wall, cpu] seconds per unit.
    return dict(forward_s_per_image=forward,
                linear_s_per_image_epoch_12x4x1000=[t / n for t in linear],
                knn_s_per_query_bank_pair_one_layer=[
                    t / (2048 * n) for t in knn])


def plot(results, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(6.0, 3.6), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    sizes = [r['n'] for r in results]
    axes.plot(sizes, [r['peak_rss_mb'] for r in results], marker='o',
              label='peak resident memory (measured)')
    axes.plot(sizes, [r['cache_mb'] for r in results], marker='s',
              linestyle='--', label='float16 cache on disk (measured)')
    axes.plot(sizes, [r['n'] * 12 * 64 * 4 / 2**20 + r['rss_before_mb']
                      for r in results], linestyle=':',
              label='fp32 features in RAM + start (arithmetic)')
    axes.set_xscale('log')
    axes.set_yscale('log')
    axes.set_xlabel('training images N')
    axes.set_ylabel('MiB')
    axes.set_title('12-block probe (width 64), CIFAR-10 repeated', fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default='data/cifar10')
    parser.add_argument('--sizes', default='1000,10000,100000')
    parser.add_argument('--test', type=int, default=1000)
    parser.add_argument('--tmp', default=None, help='folder of the caches')
    parser.add_argument('--out', default=None)
    parser.add_argument('--plot', default=None)
    parser.add_argument('--vit-b', action='store_true')
    parser.add_argument('--child', type=int, default=None)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args)))
        return 0
    if args.vit_b:
        results = vit_b_costs(args)
    else:
        results = []
        for n in [int(x) for x in args.sizes.split(',')]:
            cmd = [sys.executable, __file__, '--child', str(n), '--test',
                   str(args.test), '--data-root', args.data_root]
            cmd += ['--tmp', args.tmp] if args.tmp else []
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                sys.stderr.write(done.stderr[-3000:])
                return 1
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
        if args.plot:
            plot(results, args.plot)
    record = dict(cpu=cpu_name(), load_average=os.getloadavg(),
                  threads=torch.get_num_threads(), results=results)
    print(json.dumps(record, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(record, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
