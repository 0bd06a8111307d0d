# iGPT-L, BERT objective, ImageNet at 48 x 48 = 2304 tokens.
_base_ = ['./igpt-l_bert_imagenet-32.py']

img_size = 48
# 2304 tokens: sharding alone leaves 126 GB a GPU at 16 images; with
# activation checkpointing 16 GB (docs/benchmarks.md).
model = dict(backbone=dict(img_size=img_size, with_cp=True))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.25, 1.0),
         interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorQuantize', palette={{_base_.palette_file}},
         size=img_size, num_colors=512),
    dict(type='PackInputs', inputs_key='tokens'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
