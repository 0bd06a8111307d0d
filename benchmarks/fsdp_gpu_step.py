"""Training steps of iGPT-L sharded with FSDP2, with and without activation
checkpointing, on the GPUs of one machine (issue 19's GPU item): peak memory
per GPU and step time, beside the memory formula of
``benchmarks/fsdp_memory.py`` for the same model, batch and number of GPUs.

One process per GPU (torchrun); each builds the config's model on its GPU,
shards it with pixpretrain's :func:`~pixpretrain.engine.shard_model` (one
unit per block, as ``FSDP2Strategy`` does), builds the config's optimizer
wrapper (the recipe's bf16 autocast with its loss scaler, Adam, gradient
clipping; the scaler made shard-aware as ``FSDP2Strategy`` makes it) and takes
``--warmup`` + ``--steps`` steps through the model's own ``train_step`` on
random palette tokens. Rank 0 writes one JSON, also when a step runs out of
memory (``"outcome": "out of memory"``, with the memory at that point).

    torchrun --standalone --nproc_per_node=1 benchmarks/fsdp_gpu_step.py \\
        --with-cp --out fsdp-igpt-l-cp.json

``benchmarks/gpu_device_check.sh`` runs it as its ``fsdp-igpt-l-cp`` and
``fsdp-igpt-l`` pieces; its dry run takes the CPU (gloo), a nano iGPT and
two ranks, to check the plumbing.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist

import fsdp_memory  # benchmarks/, beside this file

GIB = 1024**3
#: Where the formula's one constant comes from: what a forward keeps for
#: backward per block, token and channel, measured in fp32 on CPU ranks.
CPU_MEASUREMENT = os.path.join(fsdp_memory.REPO, 'benchmarks', 'results',
                               'fsdp_memory.json')


def model_flops(params: int, layers: int, tokens: int, width: int,
                batch: int) -> float:
    """Model FLOPs of one training step (forward + backward, the
    recomputation of checkpointing not counted): 6 per parameter and token,
    plus attention's 12 per layer, token, channel and attended token (the
    PaLM paper's count, causal masking not discounted)."""
    return batch * tokens * (6 * params + 12 * layers * tokens * width)


def memory_now(device: torch.device) -> dict:
    if device.type != 'cuda':
        return dict(peak_allocated_gib=None, peak_reserved_gib=None)
    return dict(
        peak_allocated_gib=torch.cuda.max_memory_allocated(device) / GIB,
        peak_reserved_gib=torch.cuda.max_memory_reserved(device) / GIB)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def run(args, device: torch.device, world: int) -> dict:
    """Build, shard and step; the figures rank 0 reports."""
    from mmengine.optim import build_optim_wrapper

    from pixpretrain.engine import shard_model
    from pixpretrain.engine.optimizers.skip_nonfinite import CPU_AUTOCAST
    from pixpretrain.engine.strategies.grad_scaler import \
        use_sharded_grad_scaler
    sampler = None
    if device.type == 'cpu':  # malloc's live bytes, as fsdp_memory.py
        baseline = fsdp_memory.in_use()
        sampler = fsdp_memory.PeakSampler()
        sampler.start()
    torch.manual_seed(0)
    changes = {}
    if args.arch:  # a smaller PixelGPT, its heads as wide
        from pixpretrain.models.backbones.pixel_gpt import ARCHS
        changes['model.backbone.arch'] = args.arch
        changes['model.head.ar.embed_dims'] = ARCHS[args.arch]['embed_dims']
    start = time.perf_counter()
    with device:
        model = fsdp_memory.build(args.config, args.with_cp, changes)
    model.to(device).train()
    net = fsdp_memory.shape(model)
    backbone = model.backbone
    layers, tokens, width = (backbone.num_layers, backbone.seq_len,
                             backbone.embed_dims)
    net.update(layers=layers, width_tokens=fsdp_memory.width_tokens(
        args.batch, [(layers, tokens, width)]))
    shard_model(model)
    from mmengine.config import Config
    cfg = Config.fromfile(os.path.join(fsdp_memory.REPO, args.config))
    optim_cfg = cfg.optim_wrapper
    if device.type == 'cpu' and optim_cfg.get('type') in CPU_AUTOCAST:
        # mmengine's AmpOptimWrapper refuses a CPU: the dry run autocasts to
        # bf16 without a loss scaler, as ``--amp`` does on a CPU.
        optim_cfg = dict(optim_cfg, type=CPU_AUTOCAST[optim_cfg['type']])
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    use_sharded_grad_scaler(optim_wrapper)  # as FSDP2Strategy does
    synchronize(device)
    build_s = time.perf_counter() - start

    side = int(round(tokens**0.5))
    vocab = backbone.num_colors
    gen = torch.Generator(device=device).manual_seed(dist.get_rank())
    times, losses, outcome = [], [], 'finished'
    try:
        for step in range(args.warmup + args.steps):
            batch = torch.randint(0, vocab, (args.batch, side, side),
                                  generator=gen, device=device)
            synchronize(device)
            start = time.perf_counter()
            log_vars = model.train_step(dict(inputs=batch), optim_wrapper)
            synchronize(device)
            if step >= args.warmup:
                times.append(time.perf_counter() - start)
            losses.append(float(log_vars['loss'].detach()))
    except (torch.OutOfMemoryError, RuntimeError) as error:
        # cuBLAS and NCCL report a failed allocation as a RuntimeError
        if not isinstance(error, torch.OutOfMemoryError) and \
                'out of memory' not in str(error).lower():
            raise
        outcome = 'out of memory'
        print(f'rank {dist.get_rank()}: {str(error).splitlines()[0]}',
              file=sys.stderr)
    memory = memory_now(device)
    if sampler is not None:
        sampler.running = False
        sampler.join()
        memory['peak_allocated_gib'] = (sampler.peak - baseline) / GIB
    with open(CPU_MEASUREMENT) as measured:
        act_per_unit = json.load(measured)[
            'act_bytes_per_block_token_channel']
    setting = 'fsdp2_cp' if args.with_cp else 'fsdp2'
    predicted = fsdp_memory.predict(setting, net, act_per_unit *
                                    net['width_tokens'], world) / GIB
    flops = model_flops(net['params'], layers, tokens, width,
                        args.batch) * world
    step_s = statistics.median(times) if times else None
    from pixpretrain.apis.analysis import benchmark
    peak = benchmark.peak_tflops('bf16') if device.type == 'cuda' else None
    tflops = flops / step_s / 1e12 if step_s else None
    return dict(
        outcome=outcome, device=benchmark.device_name(),
        gpus=world, config=args.config, arch=args.arch or 'config',
        with_cp=args.with_cp, batch_per_gpu=args.batch,
        optim_wrapper=optim_cfg['type'], params=net['params'],
        layers=layers, tokens=tokens, width=width, build_s=build_s,
        warmup=args.warmup, step_s_each=times, step_s=step_s,
        images_per_s=args.batch * world / step_s if step_s else None,
        model_tflops=tflops, peak_tflops_bf16=peak,
        mfu=tflops / peak if tflops and peak else None,
        losses=losses, predicted_fp32_gib=predicted, **memory)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config',
                        default='configs/igpt/igpt-l_ar_imagenet-32.py')
    parser.add_argument('--arch', default=None,
                        choices=('nano', 'tiny', 's', 'm', 'l'),
                        help="the PixelGPT arch instead of the config's "
                        "(with the config's one 'ar' head)")
    parser.add_argument('--with-cp', action='store_true',
                        help='activation checkpointing in every block')
    parser.add_argument('--batch', type=int, default=16,
                        help='images per GPU (the recipe: 16)')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    dist.init_process_group('nccl' if cuda else 'gloo')
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    device = torch.device('cuda', local_rank) if cuda else torch.device(
        'cpu')
    if cuda:
        torch.cuda.set_device(device)
    result = run(args, device, dist.get_world_size())
    if dist.get_rank() == 0:
        from pixpretrain.apis.cli import emit_json
        emit_json(result, args.out)
    dist.destroy_process_group()
    return 0 if result['outcome'] == 'finished' else 3


if __name__ == '__main__':
    sys.exit(main())
