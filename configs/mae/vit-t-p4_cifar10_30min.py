# The CIFAR-10 MAE ViT-T/4 on a 30-minute CPU budget (docs/benchmarks.md,
# "Probe"): batches of 64 (twice the updates per image of the 128 recipe),
# a warm-up of 40 steps and a cosine planned for 3000 steps; TimeBudgetHook
# stops training after 30 minutes of wall time and saves the weights
# reached, wherever the schedule is by then.
_base_ = ['./vit-t-p4_cifar10.py']

train_dataloader = dict(batch_size=64, num_workers=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=40),
    dict(type='CosineAnnealingLR', T_max=2960, eta_min=1e-5, by_epoch=False,
         begin=40, end=3000),
]
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop',
                 max_iters=3000)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='TimeBudgetHook', minutes=30)]
