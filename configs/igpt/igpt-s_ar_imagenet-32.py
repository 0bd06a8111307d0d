# iGPT-S, autoregressive, ImageNet at 32 x 32 (d 512, 8 heads, 24 layers,
# 76M parameters): the paper's smallest model, trainable on one node.
_base_ = ['./igpt-l_ar_imagenet-32.py']

# 76M parameters train under plain DDP (the default).
model = dict(backbone=dict(arch='s'), head=dict(ar=dict(embed_dims=512)))
strategy = None
