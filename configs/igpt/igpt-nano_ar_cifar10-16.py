# A CPU-sized iGPT: autoregressive 'nano' PixelGPT (d 64, 4 heads,
# 4 layers, 0.3M parameters) on CIFAR-10 at 16 x 16 = 256 palette tokens.
#   python tools/dataset_converters/fit_palette.py CONFIG
#   python tools/train.py CONFIG
# (with --cfg-options train_dataloader.dataset.data_root=... if CIFAR-10 is
# elsewhere than data/cifar10).
_base_ = [
    '../_base_/models/igpt_ar.py',
    '../_base_/datasets/cifar10_igpt.py',
    '../_base_/schedules/adam_igpt_1m.py',
    '../_base_/default_runtime.py',
]

img_size = 16
model = dict(
    palette={{_base_.palette_file}},  # to draw completions
    backbone=dict(arch='nano', img_size=img_size),
    head=dict(ar=dict(embed_dims=64)))

train_pipeline = [
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorQuantize', palette={{_base_.palette_file}},
         size=img_size, num_colors=512),
    dict(type='PackInputs', inputs_key='tokens'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))

max_iters = 250
optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper', _delete_=True,
    optimizer=dict(type='Adam', lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
auto_scale_lr = dict(base_batch_size=16, enable=False)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0,
         end=25),
    dict(type='CosineAnnealingLR', T_max=max_iters - 25, eta_min=1e-5,
         by_epoch=False, begin=25, end=max_iters),
]
train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters)

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=250,
                    max_keep_ckpts=2))
# Average bits_per_dim over the same window as the losses (mmengine smooths
# only the keys this pattern matches).
log_processor = dict(
    by_epoch=False,
    mean_pattern=r'.*(loss|time|data_time|grad_norm|bits_per_dim).*')

# Completions of the first training images' bottom halves at the end of
# training: {work_dir}/completions/iter_N.png.
custom_hooks = [dict(type='ReconstructionHook', interval=0, num_images=4)]
