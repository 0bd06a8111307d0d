# CLIP ViT-B/32 (Radford et al. 2021, Table 19-20): 224 px images in 7 x 7
# patches of 32, a 12 x 512 causal text transformer over 77 tokens, both
# projected to a 512-d space; logit scale from 1 / 0.07, kept in [1, 100].
model = dict(
    type='CLIP',
    mask_ratio=0.0,  # FLIP: 0.5 drops half of the patches during training
    image_pool='cls',
    # CLIP's image statistics, on the 0-255 scale.
    data_preprocessor=dict(
        type='PixelDataPreprocessor',
        mean=[122.770938, 116.7460125, 104.09373615],
        std=[68.5005327, 66.6321579, 70.32316305]),
    backbone=dict(
        type='VisionTransformer', arch='b', img_size=224, patch_size=32,
        pos_embed='learned'),
    text_backbone=dict(
        type='TextTransformer', arch='b', vocab_size=49408,
        context_length=77),
    head=dict(
        type='ContrastiveTextHead', image_dims=768, text_dims=512,
        embed_dims=512, init_temperature=0.07, max_logit_scale=100.0))
