# Both objectives on one CPU-sized backbone: each step runs a causal pass
# for the AR head and a bidirectional pass over masked tokens for the BERT
# head; the logged `loss` is loss_ar + loss_bert. Features for probes come
# from the causal pass (backbone.causal=True).
_base_ = ['./igpt-nano_ar_cifar10-16.py']

model = dict(
    palette={{_base_.palette_file}},  # to draw completions
    head=dict(
        _delete_=True,
        ar=dict(type='ARPixelHead', embed_dims=64, num_colors=512),
        bert=dict(type='MaskedPixelHead', embed_dims=64, num_colors=512,
                  mask_ratio=0.15)))

# Completions of the first training images' bottom halves at the end of
# training: {work_dir}/completions/iter_N.png.
custom_hooks = [dict(type='ReconstructionHook', interval=0, num_images=4)]
