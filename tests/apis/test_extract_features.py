import re
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


@pytest.mark.parametrize('images, words', [
    (torch.rand(2, 3, 32, 32), 'these are 0-1 floats'),
    (torch.zeros(3, 32, 32, dtype=torch.uint8), 'got shape (3, 32, 32): add '
     'the batch dimension'),
    (torch.zeros(2, 32, 32, 3, dtype=torch.uint8), 'images.permute(0, 3, 1, '
     '2)'),
    (torch.zeros(2, 3, 32, 32).numpy(), 'got ndarray'),
])
def test_what_is_not_a_pixel_batch_is_refused(images, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        extract_features(init_model(TINY), images, [1])


def test_float_pixels_on_the_0_255_scale_pass():
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    model = init_model(TINY)
    by_uint8 = extract_features(model, pixels, [1])
    # a near-black float batch (whole values up to 1) is not taken for 0-1
    torch.testing.assert_close(
        extract_features(model, pixels.float(), [1])[0], by_uint8[0])
    extract_features(model, torch.randint(0, 2, (2, 3, 32, 32)).float(), [1])


def test_backbones_called_directly_name_the_preprocessing():
    model = init_model(TINY)
    pixels = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ConfigError, match=re.escape(
            "VisionTransformer takes normalised float images, got "
            "torch.uint8 pixels: run model.data_preprocessor(dict(inputs="
            "images))['inputs'] first")):
        model.extract_feat(pixels, layers=[1])


@pytest.mark.parametrize('layers', [[], 1, [1.0], ['1'], [True]])
def test_layers_that_are_not_a_list_of_indices_are_refused(layers):
    pixels = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ConfigError, match=re.escape(
            f'layers = {layers!r}: give a non-empty list of block indices')):
        extract_features(init_model(TINY), pixels, layers)
