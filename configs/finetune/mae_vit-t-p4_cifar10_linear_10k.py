# The linear probe on the subset docs/benchmarks.md ("Probe") compares with
# tools/analysis/probe.py --train-samples 10000 --test-samples 2000: every
# 5th training image and every 5th test image, the same images the probe's
# evenly spaced subsets take.
_base_ = ['./mae_vit-t-p4_cifar10_linear.py']

train_dataloader = dict(dataset=dict(indices=list(range(0, 50000, 5))))
val_dataloader = dict(dataset=dict(indices=list(range(0, 10000, 5))))
test_dataloader = val_dataloader
