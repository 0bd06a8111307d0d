# ImageNet-1k as an image folder (labels unused), two MoCo v2 views per
# image: see docs/data_preparation.md.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'

# MoCo v2's "aug+" (main_moco.py): crop, colour jitter, grey, blur, flip.
view_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.2, 1.0)),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='GaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]

# 8 GPUs x 32 = the paper's batch of 256.
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root + 'train',
        with_label=False,
        pipeline=train_pipeline))
