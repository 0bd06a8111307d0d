"""Run in a child with mmpretrain 1.2.0 importable (benchmarks/peer_envs.py):
build mmpretrain's own models with random weights, save each as the
Runner's checkpoint, and save an input batch with mmpretrain's outputs of
every block / stage.

    python -W ignore tests/tools/mmpretrain_reference.py OUT_DIR

Writes ``OUT_DIR/{name}.pth`` (checkpoints) and ``OUT_DIR/reference.pth``:
``{name: {'images': (B, 3, H, W), 'outputs': [per block / stage], ...}}``.
The models are whole algorithms (classifier, MAE, MoCo), so their
checkpoints hold a neck, a head, a momentum encoder and a queue beside
the backbone, as real ones do.
"""
import os.path as osp
import sys

import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

import mmpretrain.models  # noqa: F401  (registers the models)
from mmpretrain.registry import MODELS

VIT = dict(arch='deit-tiny', img_size=32, patch_size=4,
           out_indices=list(range(12)), out_type='raw')
CE = dict(type='CrossEntropyLoss')
RESNET = dict(depth=18, out_indices=(0, 1, 2, 3))
MOCO = dict(type='MoCo', queue_len=64, feat_dim=32, momentum=0.001,
            neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=64,
                      out_channels=32, with_avg_pool=True),
            head=dict(type='ContrastiveHead', loss=CE, temperature=0.2))

MODELS_TO_SAVE = {
    'vit': dict(type='ImageClassifier',
                backbone=dict(type='VisionTransformer', **VIT),
                head=dict(type='VisionTransformerClsHead', num_classes=10,
                          in_channels=192, loss=CE)),
    'mae_vit': dict(
        type='MAE', backbone=dict(type='MAEViT', mask_ratio=0.75, **VIT),
        neck=dict(type='MAEPretrainDecoder', num_patches=64, patch_size=4,
                  in_chans=3, embed_dim=192, decoder_embed_dim=64,
                  decoder_depth=1, decoder_num_heads=2),
        head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4,
                  loss=dict(type='PixelReconstructionLoss',
                            criterion='L2'))),
    'resnet': dict(type='ImageClassifier',
                   backbone=dict(type='ResNet', **RESNET),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10,
                             in_channels=512, loss=CE)),
    'resnet_cifar': dict(backbone=dict(type='ResNet_CIFAR', **RESNET),
                         **MOCO),
}
IMAGE_SIZE = {'vit': 32, 'mae_vit': 32, 'resnet': 64, 'resnet_cifar': 32}


def randomize(model: torch.nn.Module) -> None:
    """Move every float tensor off its init, so that a swapped LayerNorm or
    BatchNorm (init 1 / 0, running stats 0 / 1) would show in the outputs."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 1.5)
            else:
                tensor.add_(0.1 * torch.randn_like(tensor))


def main(out_dir: str) -> None:
    init_default_scope('mmpretrain')
    MessageHub.get_current_instance().update_scalar('train/loss', 1.0)
    reference = {}
    for seed, (name, cfg) in enumerate(MODELS_TO_SAVE.items()):
        torch.manual_seed(seed)
        model = MODELS.build(cfg)
        model.init_weights()
        randomize(model)
        model.eval()
        size = IMAGE_SIZE[name]
        images = torch.randn(2, 3, size, size)
        entry = dict(images=images)
        with torch.no_grad():
            if name == 'mae_vit':
                # The unmasked path (mask=None) is VisionTransformer's; the
                # masked one keeps a random subset of the patches.
                entry['outputs'] = list(model.backbone(images, mask=None))
                torch.manual_seed(100)
                visible, mask, ids_restore = model.backbone(images)
                entry.update(masked=visible, ids_restore=ids_restore,
                             num_visible=int((mask == 0).sum(1)[0]))
            else:
                entry['outputs'] = list(model.backbone(images))
        reference[name] = entry
        # As mmpretrain's Runner saves (its message hub included).
        save_checkpoint(
            dict(meta=dict(epoch=1, iter=10, mmpretrain_version='1.2.0'),
                 state_dict=model.state_dict(),
                 message_hub=MessageHub.get_current_instance().state_dict()),
            osp.join(out_dir, f'{name}.pth'))
    torch.save(reference, osp.join(out_dir, 'reference.pth'))


if __name__ == '__main__':
    main(sys.argv[1])
