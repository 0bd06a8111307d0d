# ImageNet-1k with labels (class folders under train/ and val/), for
# fine-tuning and linear probing; see docs/data_preparation.md.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=224, interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
# Resize the shorter side to 224 / 0.875, centre-crop 224.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', size=256, interpolation='bicubic'),
    dict(type='CenterCrop', size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root + 'train', with_label=True,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root + 'val', with_label=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
