# CoCa (Yu et al. 2022) on CLIP ViT-B/32's towers: the image backbone's
# tokens are pooled by one attentional-pooler query for the contrastive loss
# and cross-attended by a 6-layer multimodal caption decoder; the 12 x 512
# causal text tower gives the unimodal features to both. Loss weights as
# the paper's: contrastive 1, caption 2.
_base_ = ['./clip_vit-b-32.py']

model = dict(
    type='CoCa',
    contrastive_weight=1.0,
    caption_weight=2.0,
    pool_heads=8,
    image_pool='attention',
    caption_head=dict(
        type='CaptionHead', image_dims=768, text_dims=512, vocab_size=49408,
        num_layers=6, num_heads=8, mlp_ratio=4.0))
