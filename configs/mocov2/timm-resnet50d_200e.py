# MoCo v2 on ImageNet-1k, 200 epochs, with timm's ResNet-50-D as the encoder
# (a deep stem and average-pool downsampling; timm's `resnet50d`), through
# TimmBackbone: resnet50_200e.py's recipe with another timm model a line
# away (`model_name`; `pip install 'pixpretrain[timm]'`). The neck reads
# the last level, 2048 channels for ResNets. Random initialisation: set
# pretrained=True for timm's ImageNet weights (from the Hugging Face Hub).
_base_ = ['./resnet50_200e.py']

model = dict(
    backbone=dict(_delete_=True, type='TimmBackbone', model_name='resnet50d',
                  pretrained=False),
    neck=dict(in_channels=2048))
