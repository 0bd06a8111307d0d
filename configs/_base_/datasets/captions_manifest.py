# Your own image-caption pairs listed in a JSON-lines (or CSV) manifest:
#   {"image": "images/0001.jpg", "caption": "a dog on a beach"}
# paths relative to data_root; see docs/clip.md. Configs using this file set
# the tokenizer (TokenizeText) in the pipeline.
dataset_type = 'ImageCaptionManifest'
data_root = 'data/captions/'

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file='train.jsonl',
        pipeline=[]))
