# MoCo v2's schedule (main_moco.py --cos): SGD, momentum 0.9, wd 1e-4,
# lr 0.03 for a total batch of 256, cosine decay stepped once per epoch.
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=0.0, by_epoch=True,
         begin=0, end=200),
]

train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=200)
# The lr above is for a total batch of 256; --auto-scale-lr rescales it.
auto_scale_lr = dict(base_batch_size=256, enable=False)
