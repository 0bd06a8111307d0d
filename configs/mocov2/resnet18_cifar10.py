# MoCo on CIFAR-10 with ResNet-18: the official CIFAR demo's recipe
# (facebookresearch/moco, colab/moco_cifar10_demo.ipynb; kNN 82.6 % at 200
# epochs). One device, batch 512, split-BN over 8 groups to mimic 8 GPUs,
# queue 4096, m 0.99, T 0.1, SGD lr 0.06 wd 5e-4, cosine, a kNN monitor
# (k 200, T 0.1) on the test split after every epoch.
_base_ = [
    '../_base_/models/mocov2_resnet50.py',
    '../_base_/datasets/cifar10_mocov2.py',
    '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    momentum=0.99,
    # The demo's normalisation, on the 0-255 scale.
    data_preprocessor=dict(
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255]),
    backbone=dict(
        depth=18, cifar_stem=True,
        norm_cfg=dict(type='SplitBN', num_splits=8)),
    # The demo projects with one linear layer (512 -> 128); num_layers=2
    # gives v2's MLP.
    neck=dict(in_channels=512, hid_channels=512, out_channels=128,
              num_layers=1),
    head=dict(queue_len=4096, temperature=0.1))

optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=5e-4))
auto_scale_lr = dict(base_batch_size=512, enable=False)
train_cfg = dict(type='ResumableEpochBasedTrainLoop',
                 max_epochs=200, val_interval=1)

# The demo monitors the 128-d projection of the query encoder (knn/top1);
# the pooled 512-d backbone output, what transfers, is knn_backbone/top1.
val_evaluator = [
    dict(type='KNNAccuracy', k=200, temperature=0.1,
         feature_key='projection', prefix='knn'),
    dict(type='KNNAccuracy', k=200, temperature=0.1, feature_key='feature',
         prefix='knn_backbone'),
]

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(type='AtomicCheckpointHook',
                    interval=10, max_keep_ckpts=3))
