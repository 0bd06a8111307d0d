# CIFAR-10 at 32 px: official python batches under data/cifar10, or an
# image-folder copy (train/<class>/*.jpg); see docs/data_preparation.md.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'

train_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.2, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train',
        pipeline=train_pipeline))
