# MAE ViT-T, patch 4, on CIFAR-10 at 32 px: small enough for a CPU.
_base_ = [
    '../_base_/models/mae_vit-b-p16.py',
    '../_base_/datasets/cifar10_mae.py',
    '../_base_/schedules/adamw_mae_800e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    data_preprocessor=dict(
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255]),
    backbone=dict(arch='t', img_size=32, patch_size=4),
    neck=dict(num_patches=64, patch_size=4, encoder_dims=192,
              decoder_dims=128, decoder_depth=2, decoder_num_heads=4),
    head=dict(patch_size=4))

# 200 epochs of 390 steps; lr for a batch of 128 (auto_scale_lr rescales).
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=128, enable=False)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=190, eta_min=1e-5, by_epoch=True,
         begin=10, end=200, convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=200)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='AtomicCheckpointHook',
                    interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='ReconstructionHook', interval=0, num_images=8)]
