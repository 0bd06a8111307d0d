# CIFAR-10 at 32 px seen through captions: each training image is paired
# with prompts built from its label ("a photo of a cat.", ...), and the test
# split is classified zero-shot from CLIP's 18 CIFAR-10 prompts. Official
# python batches under data/cifar10, or an image-folder copy; see
# docs/data_preparation.md.
data_root = 'data/cifar10'

# Short byte-level captions: no tokenizer to fit, nothing to download.
tokenizer = dict(type='ByteTokenizer', context_length=48)

# Training captions: simple prompts worded differently from the test ones.
train_templates = [
    'a photo of a {}.', 'an image of a {}.', 'a picture of the {}.',
    'a {}.', 'this is a {}.', 'a small photo of a {}.',
]
# CLIP's CIFAR-10 prompts (openai/CLIP, data/prompts.md).
test_templates = [
    'a photo of a {}.', 'a blurry photo of a {}.',
    'a black and white photo of a {}.', 'a low contrast photo of a {}.',
    'a high contrast photo of a {}.', 'a bad photo of a {}.',
    'a good photo of a {}.', 'a photo of a small {}.',
    'a photo of a big {}.', 'a photo of the {}.',
    'a blurry photo of the {}.', 'a black and white photo of the {}.',
    'a low contrast photo of the {}.', 'a high contrast photo of the {}.',
    'a bad photo of the {}.', 'a good photo of the {}.',
    'a photo of the small {}.', 'a photo of the big {}.',
]

train_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.6, 1.0),
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='TokenizeText', tokenizer=tokenizer),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='PromptCaptions',
        dataset=dict(type='CIFAR10', data_root=data_root, split='train'),
        templates=train_templates,
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CIFAR10', data_root=data_root, split='test',
                 test_mode=True, pipeline=test_pipeline))
val_evaluator = dict(type='ZeroShotAccuracy', templates=test_templates,
                     tokenizer=tokenizer, topk=(1, 5))
val_cfg = dict(type='ValLoop')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict(type='TestLoop')
