# MAE pretraining schedule: AdamW (0.9, 0.95), wd 0.05 except norms, biases
# and tokens; lr = 1.5e-4 x total_batch / 256; 40 warm-up epochs, cosine.
optim_wrapper = dict(
    type='SkipNonFiniteAmpOptimWrapper',
    dtype='bfloat16',
    # fused: one kernel for all parameters (CPU and GPU), the same update.
    optimizer=dict(
        type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95),
        weight_decay=0.05, fused=True),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=760, eta_min=0.0, by_epoch=True,
         begin=40, end=800, convert_to_iter_based=True),
]

train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=800)
# The lr above is for a total batch of 4096; other totals scale linearly.
auto_scale_lr = dict(base_batch_size=4096, enable=True)
