# iGPT-S, BERT objective (Chen et al. 2020): 15 % of the 32 x 32 palette
# tokens masked independently per image, predicted with bidirectional
# attention; the loss counts masked positions only.
model = dict(
    type='IGPT',
    data_preprocessor=dict(type='TokenDataPreprocessor'),
    backbone=dict(
        type='PixelGPT', arch='s', num_colors=512, img_size=32,
        causal=False),
    # Named heads, as in igpt_ar.py.
    head=dict(
        bert=dict(type='MaskedPixelHead', embed_dims=512, num_colors=512,
                  mask_ratio=0.15)))
