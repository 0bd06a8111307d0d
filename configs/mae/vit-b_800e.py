# MAE ViT-B/16, 800 epochs on ImageNet-1k: the paper's recipe.
# 8 GPUs x 512 = 4096 images per step; other layouts rescale the lr.
_base_ = [
    '../_base_/models/mae_vit-b-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/adamw_mae_800e.py',
    '../_base_/default_runtime.py',
]

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3))
# Pick up the latest checkpoint of this work dir after a crash or preemption.
resume = True
