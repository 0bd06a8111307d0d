# CLIP's optimisation (Radford et al. 2021, Tables 18-19, ViT-B/32): AdamW
# (0.9, 0.98), eps 1e-6, decoupled weight decay 0.2 except gains, biases,
# the class/position embeddings and the logit scale; lr 5e-4 for a total
# batch of 32768; 2000 warm-up iterations, cosine decay over 32 epochs.
optim_wrapper = dict(
    type='SkipNonFiniteAmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(
        type='AdamW', lr=5e-4, betas=(0.9, 0.98), eps=1e-6,
        weight_decay=0.2),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),
            'logit_scale': dict(decay_mult=0.0),
        }))

# The warm-up (in iterations) overlaps the start of the cosine (in epochs):
# mmengine multiplies overlapping schedules, and the cosine factor is ~1
# during the first 2000 iterations of a 32-epoch run.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=2000),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0,
         end=32, convert_to_iter_based=True),
]

train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=32)
# The lr above is for CLIP's total batch of 32768; other totals scale it.
auto_scale_lr = dict(base_batch_size=32768, enable=True)
