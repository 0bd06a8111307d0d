# mae_vit-t-p4_cifar10_ft-15e.py with the GlobalLocalClsHead instead of the
# linear head: global average + global max + 2 x 2 region averages of the
# 8 x 8 patch map, through two FC layers with a LeakyReLU.
_base_ = ['./mae_vit-t-p4_cifar10_ft-15e.py']

model = dict(
    head=dict(_delete_=True, type='GlobalLocalClsHead', in_channels=192,
              num_classes=10, hidden_channels=384, local_grid=2,
              label_smoothing=0.1))
