# CapPa's parallel prediction on CIFAR-10 captions: the same ViT as
# vit-tiny-p8_cifar10-captions.py, and a 2 x 128 bidirectional decoder that
# predicts every caption token at once from mask embeddings and the image
# tokens (MaskedCaptionHead, mask_ratio=1; no text tower).
_base_ = ['./vit-tiny-p8_cifar10-captions.py']

model = dict(
    text_backbone=None,
    head=dict(_delete_=True, type='MaskedCaptionHead', image_dims=128,
              embed_dims=128, vocab_size=259, context_length=48,
              mask_ratio=1.0, num_layers=2, num_heads=4, mlp_ratio=4.0))
