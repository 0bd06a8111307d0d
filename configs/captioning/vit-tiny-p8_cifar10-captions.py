# Captioning as the only pretext, on CIFAR-10 captions made from the class
# templates, sized for a CPU: a 6 x 128 ViT on 8 x 8 patches, a 1 x 128
# causal text tower over bytes, a 2 x 128 cross-attending decoder; validated
# at the end by the share of test captions naming the class and the held-out
# likelihood of a prompt the training never used.
#   python tools/train.py configs/captioning/vit-tiny-p8_cifar10-captions.py \
#       --cfg-options train_dataloader.dataset.dataset.data_root=DIR \
#                     val_dataloader.dataset.dataset.data_root=DIR
_base_ = [
    '../_base_/models/captioner_vit-b-32.py',
    '../_base_/datasets/cifar10_captions.py',
    '../_base_/schedules/adamw_clip.py',
    '../_base_/default_runtime.py',
]

model = dict(
    data_preprocessor=dict(
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255]),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=128, num_layers=6, num_heads=4,
                  mlp_ratio=4.0),
        img_size=32, patch_size=8),
    text_backbone=dict(
        arch=dict(_delete_=True, embed_dims=128, num_layers=1, num_heads=4,
                  mlp_ratio=4.0),
        vocab_size=259, context_length=48),
    head=dict(image_dims=128, text_dims=128, vocab_size=259, num_layers=2,
              num_heads=4))

# Validation on the test images: the share of their greedy captions that
# name their class (chance 10 %), and the NLL per token (and perplexity) of
# one reference caption each, from a CLIP prompt the training templates
# lack.
val_dataloader = dict(dataset=dict(
    _delete_=True, type='PromptCaptions',
    dataset=dict(type='CIFAR10', data_root={{_base_.data_root}},
                 split='test', test_mode=True),
    templates=['a photo of the {}.'],
    pipeline=[
        dict(type='TokenizeText', tokenizer={{_base_.tokenizer}},
             caption_choice='first'),
        dict(type='PackInputs'),
    ]))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CaptionNamesClass', tokenizer={{_base_.tokenizer}}),
    dict(type='CaptionNLL'),
]
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-3))
auto_scale_lr = dict(base_batch_size=128, enable=False)
max_iters = 400
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5,
         by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop',
                 max_iters=max_iters, val_interval=max_iters)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    interval=max_iters // 4, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
