"""Throughput of WebDataset shards streamed over HTTP on 127.0.0.1 against
the same shards read from local files, side by side in one run.

CIFAR-10's test split (10,000 JPEGs, 32 px) is written into shards with
``make_shards.py``; every variant reads all of them once through a
``DataLoader`` (JPEG decoding included, no other transform), for each
worker count, in interleaved rounds so that a busy neighbour on a shared
machine slows every variant alike. The HTTP server is ``python -m
http.server`` in its own process. Prints a Markdown table of images/s (and
per worker) and writes the figures as JSON.

    python benchmarks/wds_streaming.py --workers 1 2 --rounds 3
"""
import argparse
import json
import os
import platform
import runpy
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_envs import CIFAR, REPO  # noqa: E402

from pixpretrain.datasets import (WebDatasetShards,  # noqa: E402
                                  WebDatasetStream)
from pixpretrain.utils.fileio import atomic_write  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', default=os.path.join(CIFAR, 'test'),
                        help='class-folder tree to shard')
    parser.add_argument('--shard-size', type=int, default=1000)
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--out', default=os.path.join(
        REPO, 'benchmarks', 'results', 'wds_streaming.json'))
    return parser.parse_args(argv)


def write_shards(images: str, out: str, shard_size: int) -> int:
    tool = runpy.run_path(
        os.path.join(REPO, 'tools/dataset_converters/make_shards.py'))
    assert tool['main']([out, '--image-folder', images, '--shard-size',
                         str(shard_size), '--templates',
                         'a photo of a {}.']) == 0
    with open(os.path.join(out, 'index.json')) as f:
        return len(json.load(f)['shards'])


def serve(folder: str) -> (subprocess.Popen, int):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, '-m', 'http.server', str(port), '--bind',
         '127.0.0.1', '--directory', folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(('127.0.0.1', port), 0.1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError('http.server did not start')


def images_per_second(dataset, workers: int) -> float:
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, num_workers=workers,
        collate_fn=lambda sample: sample['img'].shape)
    start = time.perf_counter()
    count = sum(1 for _ in loader)
    return count / (time.perf_counter() - start)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        num_shards = write_shards(args.images, tmp, args.shard_size)
        names = f'shard-{{000000..{num_shards - 1:06d}}}.tar'
        server, port = serve(tmp)
        try:
            variants = {
                'local files, WebDatasetStream': lambda: WebDatasetStream(
                    os.path.join(tmp, names), shuffle_buffer=0,
                    repeat=False),
                'http://127.0.0.1, WebDatasetStream': lambda:
                WebDatasetStream(f'http://127.0.0.1:{port}/{names}',
                                 shuffle_buffer=0, repeat=False),
                'local files, WebDatasetShards (tarfile)': lambda:
                WebDatasetShards(os.path.join(tmp, names),
                                 shuffle_buffer=0, repeat=False),
            }
            rates: Dict[str, Dict[int, List[float]]] = {
                name: {w: [] for w in args.workers} for name in variants}
            for _ in range(args.rounds):
                for workers in args.workers:
                    for name, build in variants.items():
                        rates[name][workers].append(
                            images_per_second(build(), workers))
        finally:
            server.terminate()
            server.wait()
    rows = []
    print('| variant | workers | images/s | images/s per worker |')
    print('|---|---:|---:|---:|')
    for name, by_workers in rates.items():
        for workers, values in by_workers.items():
            median = statistics.median(values)
            rows.append(dict(variant=name, workers=workers,
                             images_per_s=median, runs=values))
            print(f'| {name} | {workers} | {median:.0f} | '
                  f'{median / workers:.0f} |')
    result = dict(cpu=platform.processor() or platform.machine(),
                  cpus=os.cpu_count(), num_shards=num_shards,
                  shard_size=args.shard_size, rounds=args.rounds,
                  torch=torch.__version__, rows=rows)
    atomic_write(json.dumps(result, indent=1).encode(), args.out)


if __name__ == '__main__':
    main()
