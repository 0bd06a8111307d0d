"""Every iGPT config builds, and its model agrees with its data pipeline."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from pixpretrain.datasets.transforms.color_quantize import \
    find_color_quantize
from pixpretrain.registry import MODELS

CONFIGS = sorted((Path(__file__).resolve().parents[2] / 'configs' /
                  'igpt').glob('*.py'))


def test_the_paper_and_cpu_configs_are_all_there():
    names = {path.stem for path in CONFIGS}
    assert {'igpt-l_ar_imagenet-32', 'igpt-l_bert_imagenet-32',
            'igpt-l_ar_imagenet-48', 'igpt-l_bert_imagenet-48',
            'igpt-nano_ar_cifar10-16', 'igpt-nano_bert_cifar10-16',
            'igpt-nano_ar-bert_cifar10-16'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_model_matches_pipeline(path):
    cfg = Config.fromfile(str(path))
    with torch.device('meta'):  # shapes only: iGPT-L has 1.4B parameters
        model = MODELS.build(cfg.model)
    pipeline = cfg.train_dataloader.dataset.pipeline
    _, quantize = find_color_quantize(pipeline)
    assert model.backbone.img_size == (quantize['size'], ) * 2
    assert model.backbone.num_colors == quantize['num_colors']
    assert pipeline[-1] == dict(type='PackInputs', inputs_key='tokens')
    heads = {type(h).__name__ for _, h in model.named_heads()}
    if 'bert' in path.stem:
        assert 'MaskedPixelHead' in heads
    if '_ar' in path.stem:
        assert 'ARPixelHead' in heads
        assert model.backbone.causal
    else:
        assert not model.backbone.causal
