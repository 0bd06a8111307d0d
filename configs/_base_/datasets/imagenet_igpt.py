# ImageNet-1k as an image folder (docs/data_preparation.md), downsampled to
# 32 x 32 and quantised to a 512-colour palette. Fit the palette first:
#   python tools/dataset_converters/fit_palette.py CONFIG
# writes it to `palette_file`.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'
palette_file = 'data/palettes/imagenet_512.npy'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # Crop and flip are our choice of augmentation; the crop's output is
    # already at the token resolution, so ColorQuantize only quantises.
    dict(type='RandomResizedCrop', size=32, scale=(0.25, 1.0),
         interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorQuantize', palette=palette_file, size=32,
         num_colors=512),
    dict(type='PackInputs', inputs_key='tokens'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root + 'train',
        with_label=False,
        pipeline=train_pipeline))
