from pathlib import Path

import pytest
import torch
from torch import nn

from pixpretrain.apis import extract_features, init_model
from pixpretrain.models import BasePretrainer
from pixpretrain.utils import ConfigError

TINY = str(Path(__file__).resolve().parents[1] / 'fixtures' / 'tiny_mae.py')


def test_token_layers_are_average_or_cls_pooled():
    model = init_model(TINY)
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    avg = extract_features(model, images, [0, -1])
    cls = extract_features(model, images, [1], pool='cls')
    assert [f.shape for f in avg] == [(3, 32), (3, 32)]
    # Independently: normalise by hand, run the blocks, pool the patches.
    inputs = (images.float() - model.data_preprocessor.mean) / \
        model.data_preprocessor.std
    tokens = model.backbone.forward_intermediates(inputs, [0, 1])
    torch.testing.assert_close(avg[0], tokens[0][:, 1:].mean(1))
    torch.testing.assert_close(avg[1], tokens[1][:, 1:].mean(1))
    torch.testing.assert_close(cls[0], tokens[1][:, 0])


def test_training_mode_is_restored():
    model = init_model(TINY).train()
    extract_features(model, torch.zeros(1, 3, 32, 32), [0])
    assert model.training


class ConvStages(nn.Module):
    """A two-stage convolutional backbone offering forward_intermediates."""
    num_stages = 2

    def __init__(self):
        super().__init__()
        self.stages = nn.ModuleList([nn.Conv2d(3, 4, 3, stride=2, padding=1),
                                     nn.Conv2d(4, 6, 3, stride=2, padding=1)])

    def forward_intermediates(self, images, layers):
        outputs, x = [], images
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return [outputs[i] for i in layers]


def test_feature_maps_are_globally_average_pooled():
    model = BasePretrainer(backbone=ConvStages())
    images = torch.rand(2, 3, 16, 16) * 255
    stage0, stage1 = extract_features(model, images, [0, 1])
    assert stage0.shape == (2, 4) and stage1.shape == (2, 6)
    maps = model.backbone.forward_intermediates(
        model.data_preprocessor.normalize(images), [1])
    torch.testing.assert_close(stage1, maps[0].mean((2, 3)))
    with pytest.raises(ConfigError, match='only pools'):
        extract_features(model, images, [0], pool='cls')
