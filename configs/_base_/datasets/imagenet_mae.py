# ImageNet-1k as an image folder: see docs/data_preparation.md.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'

# LoadRandomResizedCrop = LoadImageFromFile + RandomResizedCrop with the same
# pixels and random stream, but faster: OpenCV's JPEG decoder, and reduced
# JPEG decoding for crops of at least twice the output size.
train_pipeline = [
    dict(type='LoadRandomResizedCrop', size=224, scale=(0.2, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=512,
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
