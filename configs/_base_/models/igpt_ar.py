# iGPT-S, autoregressive (Chen et al. 2020): next-pixel prediction over
# 32 x 32 = 1024 palette tokens of 512 colours (vocabulary 513 with the
# start token). d 512, 8 heads, 24 layers, 76M parameters.
model = dict(
    type='IGPT',
    data_preprocessor=dict(type='TokenDataPreprocessor'),
    backbone=dict(
        type='PixelGPT', arch='s', num_colors=512, img_size=32, causal=True),
    # Named heads: a checkpoint's 'head.ar.*' loads into any iGPT config
    # that has an 'ar' head (e.g. beside a classifier for fine-tuning).
    head=dict(ar=dict(type='ARPixelHead', embed_dims=512, num_colors=512)))
