# An image captioner (CapPa's autoregressive setting, Tschannen et al. 2023):
# a ViT-B/32 whose patch tokens a caption decoder cross-attends to; the
# caption's unimodal features come from a causal text tower, the multimodal
# decoder blocks add cross-attention (as CoCa's text decoder).
model = dict(
    type='ImageCaptioner',
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
        type='CaptionHead', image_dims=768, text_dims=512, vocab_size=49408,
        num_layers=6, num_heads=8, mlp_ratio=4.0))
