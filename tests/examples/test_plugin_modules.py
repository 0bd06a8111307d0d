"""The example plugin's head and transform against hand-written formulas."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pixpretrain.utils import ConfigError

PACKAGE = Path(__file__).resolve().parents[2] / 'examples' / 'plugin_package'
sys.path.insert(0, str(PACKAGE))
from pixpretrain_example_plugin import (HuberMAEHead,  # noqa: E402
                                        RandomPosterize)


def test_huber_head_matches_the_piecewise_formula():
    torch.manual_seed(0)
    head = HuberMAEHead(delta=0.5, patch_size=2, norm_pix=False)
    images = torch.randn(2, 3, 4, 4)
    pred = torch.randn(2, 4, 12) * 2
    mask = torch.tensor([[1., 0., 1., 1.], [0., 1., 0., 0.]])
    # patchify by hand: (B, C, 2, p, 2, p) -> (B, 2, 2, p, p, C)
    target = images.reshape(2, 3, 2, 2, 2, 2).permute(0, 2, 4, 3, 5, 1)
    target = target.reshape(2, 4, 12)
    r = (pred - target).abs()
    huber = torch.where(r < 0.5, 0.5 * r**2, 0.5 * (r - 0.25))
    expected = (huber.mean(-1) * mask).sum() / mask.sum()
    assert head.loss(pred, images, mask).item() == pytest.approx(
        expected.item(), rel=1e-6)


@pytest.mark.parametrize('bits, expected', [(1, 128), (3, 160), (8, 173)])
def test_posterize_keeps_the_high_bits(bits, expected):
    img = np.full((2, 2, 3), 173, dtype=np.uint8)  # 0b10101101
    out = RandomPosterize(bits=bits, prob=1.0).transform({'img': img})['img']
    assert out.dtype == np.uint8 and (out == expected).all()


def test_posterize_probability_zero_leaves_the_image():
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    out = RandomPosterize(bits=1, prob=0.0).transform({'img': img.copy()})
    assert (out['img'] == img).all()


@pytest.mark.parametrize('kwargs', [dict(bits=0), dict(bits=9),
                                    dict(prob=1.5)])
def test_posterize_rejects_out_of_range(kwargs):
    with pytest.raises(ConfigError):
        RandomPosterize(**kwargs)


def test_huber_rejects_non_positive_delta():
    with pytest.raises(ConfigError, match='delta must be > 0'):
        HuberMAEHead(delta=0)
