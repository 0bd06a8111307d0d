# The CIFAR-10 MAE ViT-T on a short CPU budget (docs/benchmarks.md, "Probe"):
# the recipe's warm-up and cosine squeezed into 800 steps of 128 images
# (about two epochs), checkpointed every 100 steps so a run stopped by its
# time budget still leaves recent weights.
_base_ = ['./vit-t-p4_cifar10.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=750, eta_min=1e-5, by_epoch=False,
         begin=50, end=800),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=800)
train_dataloader = dict(num_workers=1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100,
                    max_keep_ckpts=2))
custom_hooks = []
