"""MoCo and CLIP train a timm backbone through tools/train.py; init_model,
extract_features and the probe read it."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pixpretrain.apis import extract_features, init_model
from pixpretrain.applications.probe import ProbeSettings, run_probe

pytest.importorskip('timm')

FIXTURES = Path(__file__).resolve().parents[1] / 'fixtures'
MOCO = str(FIXTURES / 'tiny_moco_timm.py')
CLIP = str(FIXTURES / 'tiny_clip_timm.py')
REPO = FIXTURES.parents[1]
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def losses(work_dir):
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return [r['loss'] for r in records if 'loss' in r], records


def state(path):
    return torch.load(path, weights_only=False)['state_dict']


def test_moco_trains_a_timm_resnet(tmp_path):
    assert train_tool.main([MOCO, '--work-dir', str(tmp_path),
                            '--cfg-options', 'experiment_name=moco_timm']) == 0
    values, records = losses(tmp_path)
    assert len(values) == 4 and all(np.isfinite(values))
    assert any('knn_backbone/top1' in r for r in records)
    early, late = state(tmp_path / 'iter_2.pth'), state(tmp_path /
                                                        'iter_4.pth')
    key = 'backbone.model.layer1.0.conv1.weight'
    assert not torch.equal(early[key], late[key])  # the encoder learns
    # The key encoder moves towards it but stays a separate copy.
    assert not torch.equal(late[key], late['momentum_encoder.' + key])


def test_clip_trains_a_timm_vit_and_its_checkpoint_loads(tmp_path):
    assert train_tool.main([CLIP, '--work-dir', str(tmp_path),
                            '--cfg-options', 'experiment_name=clip_timm']) == 0
    values, records = losses(tmp_path)
    assert len(values) == 4 and all(np.isfinite(values))
    assert any('zero_shot/top1' in r for r in records)

    model = init_model(CLIP, str(tmp_path / 'iter_4.pth'))
    saved = state(tmp_path / 'iter_4.pth')
    torch.testing.assert_close(model.backbone.model.blocks[0].attn.qkv.weight,
                               saved['backbone.model.blocks.0.attn.qkv.weight'])
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    (feature, ) = extract_features(model, images, [0])
    # By hand: normalise, run timm's patch embedding and block, average the
    # 16 patch tokens (the class token is left out).
    pre = model.data_preprocessor
    vit = model.backbone.model
    with torch.no_grad():
        x = vit._pos_embed(vit.patch_embed((images.float() - pre.mean) /
                                           pre.std))
        tokens = vit.blocks[0](vit.norm_pre(x))
    torch.testing.assert_close(feature, tokens[:, 1:].mean(1))


def test_the_probe_reads_a_timm_backbone_per_level(tmp_path):
    model = init_model(MOCO)
    checkpoint = tmp_path / 'moco.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    report = run_probe(ProbeSettings(
        MOCO, str(checkpoint), data='shapes', methods=['knn'],
        knn_ks=(5, ), img_size=32, baseline=False, train_samples=30,
        test_samples=10, num_workers=0, cache_dir=str(tmp_path / 'cache')))
    assert report['layers'] == [0, 1, 2, 3, 4]  # stem + 4 stages
    rows = report['models']['trained']['layers']
    assert [row['layer'] for row in rows] == [0, 1, 2, 3, 4]
    assert all(0 <= row['knn']['5'] <= 100 for row in rows)
    assert report['models']['trained']['timing']['extracted_layers'] == \
        [0, 1, 2, 3, 4]


def test_the_timm_moco_config_builds_and_feeds_its_neck():
    config = REPO / 'configs' / 'mocov2' / 'timm-resnet50d_200e.py'
    model = init_model(str(config))
    assert type(model.backbone).__name__ == 'TimmBackbone'
    with torch.no_grad():
        features = model.extract_feat(torch.randn(2, 3, 64, 64))
    # ResNet-50-D's last stage: 2048 channels at 1/32 of the input
    assert features[-1].shape == (2, 2048, 2, 2)
    assert model.neck.mlp[0].in_features == 2048
