# CapPa's recipe on CIFAR-10 captions (Tschannen et al. 2023): the parallel
# config's ViT and 2 x 128 decoder, trained by parallel prediction on three
# steps in four and by autoregressive teacher forcing of the same decoder on
# the fourth; it captions autoregressively (greedy, or beam search) and is
# validated like the other captioning configs.
_base_ = ['./vit-tiny-p8_cifar10-captions_parallel.py']

model = dict(head=dict(ar_fraction=0.25))
