# MoCo v2 (Chen et al. 2020): ResNet-50, MLP head 2048 -> 2048 -> 128,
# 65,536 queued keys, T 0.2, key encoder m 0.999, shuffle-BN across ranks.
model = dict(
    type='MoCo',
    momentum=0.999,
    momentum_schedule='constant',
    shuffle_bn=True,
    data_preprocessor=dict(
        type='PixelDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        # oneDNN's convolutions are faster on NHWC (5-7 % per CPU step).
        channels_last=True),
    backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN')),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=True),
    head=dict(
        type='MoCoQueueHead', feat_dim=128, queue_len=65536,
        temperature=0.2))
