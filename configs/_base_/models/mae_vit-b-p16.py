# MAE ViT-B/16 (He et al. 2021): 75 % of patches removed, 8 x 512 decoder.
model = dict(
    type='MAE',
    mask_ratio=0.75,
    data_preprocessor=dict(
        type='PixelDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    backbone=dict(
        type='VisionTransformer', arch='b', img_size=224, patch_size=16,
        pos_embed='sincos'),
    neck=dict(
        type='MAEDecoder',
        num_patches=196,
        patch_size=16,
        in_channels=3,
        encoder_dims=768,
        decoder_dims=512,
        decoder_depth=8,
        decoder_num_heads=16),
    head=dict(type='MAEHead', patch_size=16, norm_pix=True))
