"""Peak memory per rank of iGPT-S training on two CPU ranks (gloo): DDP,
FSDP2 (pixpretrain's per-block sharding) and FSDP2 + activation
checkpointing; a memory formula whose one measured constant (what a
forward pass keeps for backward, from the DDP run) predicts the three peaks;
from it, per-GPU predictions for iGPT-L and MAE ViT-H on 8 GPUs.

Each setting runs in two fresh processes (torch.multiprocessing, spawn):
build the model (seed 0), wrap it, take ``--steps`` Adam steps on random
tokens. A rank's figure is its peak live memory (malloc's bytes in use,
sampled every millisecond by a thread) above what was live before the model
was built; the larger rank's is reported. The resident size would also
count what the allocator caches after freeing.

    PYTHONPATH=. python benchmarks/fsdp_memory.py --out \
        benchmarks/results/fsdp_memory.json
"""
import argparse
import ctypes
import functools
import json
import os
import socket
import sys
import threading
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = ('ddp', 'fsdp2', 'fsdp2_cp')
GB = 1024**3
WORLD = 2


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',
        'fsmblks', 'uordblks', 'fordblks', 'keepcost')]


@functools.lru_cache(maxsize=None)
def _mallinfo2():
    """glibc's mallinfo2 (glibc 2.33+), looked up on first use, so that
    importing this file needs nothing (fsdp_gpu_step.py on a GPU)."""
    function = ctypes.CDLL('libc.so.6').mallinfo2
    function.restype = _MallInfo2
    return function


def in_use() -> int:
    """Bytes malloc has handed out and not taken back (torch's CPU
    tensors included): live memory, unlike the resident size, which keeps
    what the allocator caches."""
    info = _mallinfo2()()
    return info.uordblks + info.hblkhd


class PeakSampler(threading.Thread):
    """The largest :func:`in_use` seen, sampled every millisecond (torch
    releases the GIL inside its kernels)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.running = in_use(), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, in_use())
            time.sleep(0.001)


def build(config: str, with_cp: bool, changes: dict = None):
    from mmengine.config import Config

    from pixpretrain.registry import MODELS, register_all_modules
    register_all_modules()
    cfg = Config.fromfile(os.path.join(REPO, config))
    cfg.merge_from_dict(changes or {})
    cfg.model.backbone.with_cp = with_cp
    return MODELS.build(cfg.model)


def shape(model) -> dict:
    """Parameters: total, in one block, outside every block; depth."""
    from pixpretrain.engine import BLOCK_TYPES
    blocks = [m for m in model.modules() if isinstance(m, BLOCK_TYPES)]
    total = sum(p.numel() for p in model.parameters())
    in_blocks = sum(p.numel() for b in blocks for p in b.parameters())
    return dict(params=total, block_params=max(
        sum(p.numel() for p in b.parameters()) for b in blocks),
        root_params=total - in_blocks)


def worker(rank: int, port: int, setting: str, args, results) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=WORLD)
    from torch.nn.parallel import DistributedDataParallel

    from pixpretrain.engine import shard_model
    baseline = in_use()
    sampler = PeakSampler()
    sampler.start()
    torch.manual_seed(0)
    model = build(args.config, setting == 'fsdp2_cp')
    model.train()
    wrapped = (DistributedDataParallel(model) if setting == 'ddp' else
               shard_model(model))
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(rank)
    times, kept = [], []
    for _ in range(args.steps):
        tokens = torch.randint(0, 512, (args.batch, 32, 32), generator=gen)
        start = time.perf_counter()
        before = in_use()
        losses = wrapped(tokens, mode='loss')
        kept.append(in_use() - before)  # what forward keeps for backward
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    sampler.running = False
    sampler.join()
    results[(setting, rank)] = dict(peak_gb=(sampler.peak - baseline) / GB,
                                    forward_keeps_gb=kept[-1] / GB,
                                    step_s=min(times))
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def full_size(config: str, arch: tuple, changes: dict) -> dict:
    """:func:`shape` of a model too big to build here: built with one
    backbone block, the others counted as copies of it."""
    width, depth, heads = arch
    model = build(config, False, changes=dict(changes, **{
        'model.backbone.arch': dict(_delete_=True, embed_dims=width,
                                    num_layers=1,
                                    num_heads=heads, mlp_ratio=4.0)}))
    net = shape(model)
    block = sum(p.numel() for p in model.backbone.blocks[0].parameters())
    net['params'] += (depth - 1) * block
    net['block_params'] = max(net['block_params'], block)
    return net


def predict(setting: str, net: dict, act_bytes: float, world: int) -> float:
    """Bytes per rank: fp32 weights, gradients and Adam's two moments
    (16 B a parameter), DDP's gradient buckets (4 B) or FSDP2's gathered
    units (the root's weights and gradients for the step, two blocks'
    weights and gradients at a time), and the activations ``act_bytes``
    (all of them; with checkpointing each block's input and one block's
    whole set)."""
    states = 16 * net['params']
    if setting == 'ddp':
        return states + 4 * net['params'] + act_bytes
    gathered = 8 * net['root_params'] + 16 * net['block_params']
    if setting == 'fsdp2':
        return states / world + gathered + act_bytes
    kept = 4 * net['width_tokens']  # one (B, N, D) input per block
    return states / world + gathered + kept + act_bytes / net['layers']


def width_tokens(batch: int, stacks) -> int:
    """Sum over blocks of B * N * D, for (layers, tokens, width) stacks."""
    return sum(layers * batch * tokens * width
               for layers, tokens, width in stacks)


def measure(args) -> tuple:
    """Per setting: the larger rank's peak and forward keep (GB), rank
    0's fastest step (s)."""
    manager = mp.Manager()
    results = manager.dict()
    for setting in SETTINGS:
        mp.start_processes(worker, args=(free_port(), setting, args, results),
                           nprocs=WORLD, start_method='spawn')
    measured = {s: max(results[(s, r)]['peak_gb'] for r in range(WORLD))
                for s in SETTINGS}
    step_s = {s: results[(s, 0)]['step_s'] for s in SETTINGS}
    forward_keeps = {s: max(results[(s, r)]['forward_keeps_gb']
                            for r in range(WORLD)) for s in SETTINGS}
    return measured, step_s, forward_keeps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config',
                        default='configs/igpt/igpt-s_ar_imagenet-32.py')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--out', default=None)
    parser.add_argument('--measured', metavar='JSON',
                        help="an earlier run's --out: predict from its "
                        'figures without measuring again')
    args = parser.parse_args(argv)

    if args.measured:  # predictions again from an earlier run's figures
        with open(args.measured) as earlier:
            report = json.load(earlier)
        measured, step_s, forward_keeps = (report[key] for key in (
            'measured_peak_gb', 'step_s', 'measured_forward_keeps_gb'))
    else:
        measured, step_s, forward_keeps = measure(args)
    small = build(args.config, False)
    net = shape(small)
    stacks = [(small.backbone.num_layers, small.backbone.seq_len,
               small.backbone.embed_dims)]
    net.update(layers=stacks[0][0],
               width_tokens=width_tokens(args.batch, stacks))
    # The one measured constant: what DDP's forward keeps for backward, per
    # block, token and channel; the peaks are then predicted, not fitted.
    act_per_unit = forward_keeps['ddp'] * GB / net['width_tokens']
    check = {s: predict(s, net, act_per_unit * net['width_tokens'], WORLD)
             / GB for s in SETTINGS}

    gpus = {}
    for name, config, arch, changes, batch, layer_stacks in (
            ('iGPT-L', 'configs/igpt/igpt-l_ar_imagenet-32.py',
             (1536, 48, 16), {}, 16, [(48, 1024, 1536)]),
            ('iGPT-L 48 px', 'configs/igpt/igpt-l_ar_imagenet-48.py',
             (1536, 48, 16), {}, 16, [(48, 2304, 1536)]),
            # encoder: cls + 25 % of 256 patches; decoder: 8 x 512 over 257
            ('MAE ViT-H/14', 'configs/mae/vit-b_800e.py', (1280, 32, 16), {
                'model.backbone.patch_size': 14, 'model.neck.num_patches':
                256, 'model.neck.patch_size': 14, 'model.neck.encoder_dims':
                1280, 'model.head.patch_size': 14}, 64,
             [(32, 65, 1280), (8, 257, 512)])):
        big = full_size(config, arch, changes)
        big.update(layers=sum(s[0] for s in layer_stacks),
                   width_tokens=width_tokens(batch, layer_stacks))
        gpus[name] = dict(batch_per_gpu=batch, params=big['params'], **{
            s: predict(s, big, act_per_unit * big['width_tokens'], 8) / GB
            for s in SETTINGS})
    report = dict(
        machine='AMD EPYC Zen 4, 2 cores shared, 2 gloo ranks, fp32',
        config=args.config, batch_per_rank=args.batch, steps=args.steps,
        net=net, act_bytes_per_block_token_channel=act_per_unit,
        measured_peak_gb=measured, formula_peak_gb=check,
        measured_forward_keeps_gb=forward_keeps, step_s=step_s,
        predicted_8_gpus_gb=gpus)
    from pixpretrain.apis.cli import emit_json
    emit_json(report, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
