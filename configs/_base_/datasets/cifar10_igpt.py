# CIFAR-10 as 32 x 32 palette tokens: official python batches under
# data/cifar10 or an image-folder copy (docs/data_preparation.md). Fit the
# palette first:
#   python tools/dataset_converters/fit_palette.py CONFIG
# writes it to `palette_file`.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
palette_file = 'data/palettes/cifar10_512.npy'

train_pipeline = [
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorQuantize', palette=palette_file, size=32,
         num_colors=512),
    dict(type='PackInputs', inputs_key='tokens'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train',
        pipeline=train_pipeline))
