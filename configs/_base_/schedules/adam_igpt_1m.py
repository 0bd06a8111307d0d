# iGPT pretraining schedule (paper, section 3.4): Adam (0.9, 0.95), no
# weight decay, batch 128, 1M iterations, the lr warmed up for about one
# epoch then decayed to 0 with a cosine. The paper picks the lr per model by
# a sweep (0.01, 0.003, 0.001, ...) and does not list the winners: 1e-3 is
# a starting point. Gradient clipping at 1.0 is ours (GPT-2 practice).
max_iters = 1_000_000
warmup_iters = 10_000  # ~one ImageNet epoch at batch 128

optim_wrapper = dict(
    type='SkipNonFiniteAmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         eta_min=0.0, by_epoch=False, begin=warmup_iters, end=max_iters),
]

train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters)
# The lr above is for a total batch of 128; other totals scale linearly.
auto_scale_lr = dict(base_batch_size=128, enable=True)
