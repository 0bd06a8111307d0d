"""Host memory of loading one checkpoint on every rank, as ``--resume`` and
``load_from`` do: read into memory (torch.load) against mapped
(``mmap=True``, what pixpretrain's local loader does), each rank then
copying the half of every tensor a two-rank FSDP2 run keeps.

Per rank: the anonymous memory it gained (``RssAnon``: what no other
process can share and the kernel cannot drop; mapped file pages are page
cache, shared between the ranks) and the load + copy time. Alternating
rounds, fresh processes each.

    PYTHONPATH=. python benchmarks/checkpoint_load_memory.py \\
        --out benchmarks/results/checkpoint_load_memory.json
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.multiprocessing as mp

MIB = 1024**2


def anonymous_mib() -> float:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('RssAnon:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no RssAnon in /proc/self/status (Linux only)')


def worker(rank: int, path: str, mmap: bool, results) -> None:
    from pixpretrain.utils.checkpoint import safe_load
    torch.set_num_threads(1)
    before = anonymous_mib()
    start = time.perf_counter()
    state = safe_load(path, 'cpu', mmap=mmap)['state_dict']
    shard = {key: value.chunk(2)[rank].clone() for key, value in
             state.items()}
    seconds = time.perf_counter() - start
    results[rank] = (anonymous_mib() - before, seconds,
                     sum(v.numel() * v.element_size() for v in shard.values())
                     / MIB)


def main(argv=None) -> int:
    from pixpretrain.apis.analysis.benchmark import cpu_name
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size-mib', type=int, default=1536,
                        help='the checkpoint (float32 4096 x 4096 tensors)')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    tensors = max(1, args.size_mib // 64)  # 64 MiB each
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'ckpt.pth')
        torch.save({'state_dict': {f'w{i}': torch.randn(4096, 4096)
                                   for i in range(tensors)}}, path)
        runs = {'read': [], 'mapped': []}
        for _ in range(args.rounds):
            for name, mmap in (('read', False), ('mapped', True)):
                results = mp.Manager().dict()
                mp.start_processes(worker, args=(path, mmap, results),
                                   nprocs=2, start_method='spawn')
                runs[name].append([results[r] for r in (0, 1)])
    report = dict(
        checkpoint_mib=tensors * 64, ranks=2, rounds=args.rounds,
        cpu=cpu_name(),
        shard_mib=runs['read'][0][0][2],
        **{f'{name}_anonymous_mib_per_rank': statistics.median(
            r[0] for rnd in rounds for r in rnd)
           for name, rounds in runs.items()},
        **{f'{name}_seconds': statistics.median(
            r[1] for rnd in rounds for r in rnd)
           for name, rounds in runs.items()})
    from pixpretrain.apis.cli import emit_json
    emit_json(report, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
