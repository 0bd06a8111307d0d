# CLIP ViT-B/32 on your own image-caption pairs, with the paper's recipe.
# 1. list the pairs in data/captions/train.jsonl (docs/clip.md);
# 2. fit the tokenizer on their captions (writes the vocab_file below):
#      python tools/dataset_converters/fit_bpe.py \
#          configs/clip/vit-b-32_own-data.py
# 3. train: bash tools/dist_train.sh configs/clip/vit-b-32_own-data.py 8
# 8 GPUs x 256 = 2048 pairs per step; auto_scale_lr rescales the lr of the
# paper's 32768.
_base_ = [
    '../_base_/models/clip_vit-b-32.py',
    '../_base_/datasets/captions_manifest.py',
    '../_base_/schedules/adamw_clip.py',
    '../_base_/default_runtime.py',
]

# A byte-level BPE fitted on the training captions, kept beside the run.
tokenizer = dict(
    type='BPETokenizer',
    vocab_file='work_dirs/{{fileBasenameNoExtension}}/bpe.json',
    context_length=77)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # open_clip's crop: most of the image, square, bicubic.
    dict(type='RandomResizedCrop', size=224, scale=(0.9, 1.0),
         interpolation='bicubic'),
    dict(type='TokenizeText', tokenizer=tokenizer),
    dict(type='PackInputs'),
]
# Scraped image-caption pairs often include a few broken downloads: skip them
# (each is named in the log) unless they are more than 5 % of the data.
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline, max_bad_fraction=0.05))

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3))
# Pick up the latest checkpoint of this work dir after a crash or preemption.
resume = True
