# iGPT-L, BERT objective, ImageNet at 32 x 32 (paper sizes: d 1536,
# 16 heads, 48 layers; 15 % of tokens masked). 8 GPUs x 16 = 128 per step.
_base_ = [
    '../_base_/models/igpt_bert.py',
    '../_base_/datasets/imagenet_igpt.py',
    '../_base_/schedules/adam_igpt_1m.py',
    '../_base_/default_runtime.py',
]

# Sharded with FSDP2, as igpt-l_ar_imagenet-32.py (docs/distributed.md,
# docs/benchmarks.md).
model = dict(backbone=dict(arch='l'), head=dict(bert=dict(embed_dims=1536)))
strategy = dict(type='FSDP2Strategy', shard_blocks=True,
                reshard_after_forward=True)

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
resume = True
