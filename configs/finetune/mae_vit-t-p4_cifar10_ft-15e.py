# Full fine-tuning of the CIFAR-10 MAE ViT-T/4
# (configs/mae/vit-t-p4_cifar10.py) sized for a CPU: 15 epochs, batch 128. The ViT-B recipe's parts with
# values for a small model: layer decay 0.75, drop path 0.1, label
# smoothing 0.1, mixup 0.8 / CutMix 1.0.
#
#   python tools/train.py configs/finetune/mae_vit-t-p4_cifar10_ft-15e.py \
#       --cfg-options model.backbone_checkpoint=PRETRAINED.pth \
#                     train_dataloader.dataset.data_root=data/cifar10 \
#                     val_dataloader.dataset.data_root=data/cifar10
_base_ = [
    '../_base_/datasets/cifar10_cls.py',
    '../_base_/schedules/adamw_mae-ft_100e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone_checkpoint=None,
    data_preprocessor=dict(
        type='PixelDataPreprocessor',
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255]),
    backbone=dict(
        type='VisionTransformer', arch='t', img_size=32, patch_size=4,
        drop_path_rate=0.1),
    head=dict(
        type='LinearClsHead', in_channels=192, num_classes=10, pool='avg',
        label_smoothing=0.1, init_std=2e-5),
    batch_augments=dict(
        type='MixupCutmix', mixup_alpha=0.8, cutmix_alpha=1.0,
        switch_prob=0.5))

optim_wrapper = dict(
    optimizer=dict(lr=1e-3), paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=14, eta_min=1e-6, by_epoch=True,
         begin=1, end=15, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=15, val_interval=1)
auto_scale_lr = dict(base_batch_size=128, enable=False)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='accuracy/top1', rule='greater'))
