# MoCo v2, ResNet-50, 200 epochs on ImageNet-1k: the paper's recipe
# (linear probe 67.5 % top-1 in facebookresearch/moco's README).
# 8 GPUs x 32 = 256 images per step, lr 0.03; other totals: --auto-scale-lr.
_base_ = [
    '../_base_/models/mocov2_resnet50.py',
    '../_base_/datasets/imagenet_mocov2.py',
    '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/default_runtime.py',
]

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3))
# Pick up the latest checkpoint of this work dir after a crash or preemption.
resume = True
