# CoCa on CIFAR-10 captions, on the towers of
# configs/clip/vit-tiny-p8_cifar10-captions.py (a 6 x 128 ViT on 8 x 8
# patches, a 2 x 128 causal text transformer over bytes) plus a 2 x 128
# multimodal caption decoder; validated zero-shot from the contrastive part.
#   python tools/train.py configs/coca/vit-tiny-p8_cifar10-captions.py \
#       --cfg-options train_dataloader.dataset.dataset.data_root=DIR \
#                     val_dataloader.dataset.data_root=DIR
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
