# Full fine-tuning of an MAE ViT-B/16 on ImageNet (He et al. 2021, Table 9):
# layer-wise lr decay 0.65, drop path 0.1, label smoothing 0.1, mixup 0.8 /
# CutMix 1.0, average-pooled patch features into a linear head. Differences
# from the paper: no RandAugment or random erasing, and the pooled feature
# is the encoder's final LayerNorm output (the paper drops that norm and
# normalises after pooling). See docs/evaluation.md.
#
#   python tools/train.py configs/finetune/mae_vit-b-p16_ft-100e.py \
#       --cfg-options \
#       model.backbone_checkpoint=work_dirs/vit-b_800e/epoch_800.pth
_base_ = [
    '../_base_/datasets/imagenet_cls.py',
    '../_base_/schedules/adamw_mae-ft_100e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    # The pretraining checkpoint; its backbone.* keys are loaded strictly.
    backbone_checkpoint=None,
    data_preprocessor=dict(
        type='PixelDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='VisionTransformer', arch='b', img_size=224, patch_size=16,
        drop_path_rate=0.1),
    head=dict(
        type='LinearClsHead', in_channels=768, num_classes=1000, pool='avg',
        label_smoothing=0.1, init_std=2e-5),
    batch_augments=dict(
        type='MixupCutmix', mixup_alpha=0.8, cutmix_alpha=1.0,
        switch_prob=0.5))

default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='accuracy/top1', rule='greater'))
