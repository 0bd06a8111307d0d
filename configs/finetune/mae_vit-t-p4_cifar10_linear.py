# Frozen-backbone linear probe of the CIFAR-10 MAE ViT-T/4's last block
# through the Runner, as mmpretrain-style benchmarks run it: the backbone
# runs on every augmented image of every epoch. MAE's linear probe in
# spirit (average-pooled features standardised by a BatchNorm without
# affine parameters, then a linear layer); Adam rather than LARS at a CPU
# batch size. tools/analysis/probe.py gets every layer for about the price
# of one of these epochs; docs/benchmarks.md compares the two.
#
#   python tools/train.py configs/finetune/mae_vit-t-p4_cifar10_linear.py \
#       --cfg-options model.backbone_checkpoint=PRETRAINED.pth
_base_ = [
    '../_base_/datasets/cifar10_cls.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone_checkpoint=None,
    frozen_backbone=True,
    data_preprocessor=dict(
        type='PixelDataPreprocessor',
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255]),
    backbone=dict(type='VisionTransformer', arch='t', img_size=32,
                  patch_size=4),
    head=dict(
        type='LinearClsHead', in_channels=192, num_classes=10, pool='avg',
        feature_norm=True, init_std=0.01))

optim_wrapper = dict(
    type='SkipNonFiniteOptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop',
                 max_epochs=10, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=20))
custom_hooks = [dict(type='FrozenBackboneCheckHook')]
