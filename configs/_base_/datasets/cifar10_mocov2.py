# CIFAR-10 at 32 px with the MoCo CIFAR demo's two views, and a kNN monitor:
# test images classified against the (unaugmented) training images.
# Official python batches under data/cifar10, or an image-folder copy
# (train/<class>/*.jpg); see docs/data_preparation.md.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'

# The demo's views (moco_cifar10_demo.ipynb): torchvision's default crop
# scale (0.08, 1), flip, colour jitter p 0.8, grey p 0.2; no blur at 32 px.
view_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.08, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=512,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train',
        pipeline=train_pipeline))

# kNN monitor (k 200, T 0.1, as the demo), every validation.
val_dataloader = dict(
    batch_size=512,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='test',
        pipeline=test_pipeline))
val_cfg = dict(
    type='KNNValLoop',
    bank_dataloader=dict(
        batch_size=512,
        num_workers=4,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type=dataset_type, data_root=data_root, split='train',
            pipeline=test_pipeline)))
val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.1,
                     feature_key='feature')
