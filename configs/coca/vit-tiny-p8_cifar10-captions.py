# CoCa on CIFAR-10 captions, on the towers of
# configs/clip/vit-tiny-p8_cifar10-captions.py (a 6 x 128 ViT on 8 x 8
# patches, a 2 x 128 causal text transformer over bytes) plus a 2 x 128
# multimodal caption decoder; validated zero-shot from the contrastive part
# and by the held-out likelihood of a caption the training never used.
#   python tools/train.py configs/coca/vit-tiny-p8_cifar10-captions.py \
#       --cfg-options train_dataloader.dataset.dataset.data_root=DIR \
#                     val_dataloader.dataset.dataset.data_root=DIR
_base_ = ['../clip/vit-tiny-p8_cifar10-captions.py']

model = dict(
    type='CoCa',
    contrastive_weight=1.0,
    caption_weight=2.0,
    pool_heads=4,
    image_pool='attention',
    caption_head=dict(
        type='CaptionHead', image_dims=128, text_dims=128, vocab_size=259,
        num_layers=2, num_heads=4, mlp_ratio=4.0))

# The pooler's query is an embedding: no weight decay, as the position
# embeddings.
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'pooler.query': dict(decay_mult=0.0)}))

# Validation on the test images, each with one reference caption from a CLIP
# prompt the training templates lack: zero-shot accuracy from CLIP's 18
# prompts (the images alone) and the caption decoder's NLL per token.
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
    dict(type='ZeroShotAccuracy', templates={{_base_.test_templates}},
         tokenizer={{_base_.tokenizer}}, topk=(1, 5)),
    dict(type='CaptionNLL'),
]
test_evaluator = val_evaluator
