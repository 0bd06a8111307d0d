# MAE's fine-tuning schedule (He et al. 2021, Table 9): AdamW (0.9, 0.999),
# wd 0.05, lr = 5e-4 x total_batch / 256 with layer-wise decay, 5 warm-up
# epochs, cosine to 100 epochs.
optim_wrapper = dict(
    type='SkipNonFiniteAmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=5e-4 * 1024 / 256, betas=(0.9, 0.999),
                   weight_decay=0.05),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, eta_min=1e-6, by_epoch=True,
         begin=5, end=100, convert_to_iter_based=True),
]

train_cfg = dict(type='ResumableEpochBasedTrainLoop',
                 max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# The lr above is for a total batch of 1024; other totals scale linearly.
auto_scale_lr = dict(base_batch_size=1024, enable=True)
