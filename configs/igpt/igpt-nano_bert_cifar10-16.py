# The CPU-sized iGPT with the BERT objective: 15 % of the 16 x 16 palette
# tokens of each CIFAR-10 image masked, bidirectional attention.
_base_ = ['./igpt-nano_ar_cifar10-16.py']

model = dict(
    backbone=dict(causal=False),
    head=dict(
        _delete_=True,
        bert=dict(type='MaskedPixelHead', embed_dims=64, num_colors=512,
                  mask_ratio=0.15)))
