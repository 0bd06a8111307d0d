# iGPT-L, autoregressive, ImageNet at 32 x 32: the paper's recipe (d 1536,
# 16 heads, 48 layers, 1.4B parameters; it reports a 60.3 % ImageNet linear
# probe). 8 GPUs x 16 = 128 images per step; other totals rescale the lr.
_base_ = [
    '../_base_/models/igpt_ar.py',
    '../_base_/datasets/imagenet_igpt.py',
    '../_base_/schedules/adam_igpt_1m.py',
    '../_base_/default_runtime.py',
]

# DDP cannot hold it on an 80 GB GPU (weights, gradients and Adam state
# alone take 22 GB a GPU, the activations of 16 images more than the rest):
# FSDP2 shards the first over the GPUs, activation checkpointing keeps one
# input per block (docs/distributed.md; the predicted memory per GPU is in
# docs/benchmarks.md). A launched run shards; one process trains without.
model = dict(backbone=dict(arch='l', with_cp=True),
             head=dict(ar=dict(embed_dims=1536)))
strategy = dict(type='FSDP2Strategy', shard_blocks=True,
                reshard_after_forward=True)

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    interval=10000, max_keep_ckpts=3))
# Average bits_per_dim over the same window as the losses (mmengine smooths
# only the keys this pattern matches).
log_processor = dict(
    by_epoch=False,
    mean_pattern=r'.*(loss|time|data_time|grad_norm|bits_per_dim).*')
# Pick up the latest checkpoint of this work dir after a crash or preemption.
resume = True
