import pytest
import torch

from pixpretrain.models.utils import pool_feature, tokens_to_map
from pixpretrain.utils import ConfigError


def test_average_pool_skips_the_cls_token():
    tokens = torch.zeros(2, 5, 3)
    tokens[:, 0] = 100.0               # cls token
    tokens[:, 1:] = torch.arange(4.0)[None, :, None]  # patches 0, 1, 2, 3
    pooled = pool_feature(tokens, 'avg', prefix_tokens=1)
    torch.testing.assert_close(pooled, torch.full((2, 3), 1.5))
    torch.testing.assert_close(pool_feature(tokens, 'cls', 1),
                               torch.full((2, 3), 100.0))


def test_maps_are_globally_average_pooled():
    feature_map = torch.arange(2 * 3 * 4.0).view(1, 2, 3, 4).expand(2, -1, -1,
                                                                    -1)
    pooled = pool_feature(feature_map, 'avg')
    torch.testing.assert_close(pooled, torch.tensor([[5.5, 17.5]] * 2))
    with pytest.raises(ConfigError, match='only pools'):
        pool_feature(feature_map, 'cls')


def test_cls_pooling_without_a_cls_token_and_unknown_pools_fail():
    with pytest.raises(ConfigError, match='cls token'):
        pool_feature(torch.zeros(1, 4, 2), 'cls', prefix_tokens=0)
    with pytest.raises(ConfigError, match="pool must be one of"):
        pool_feature(torch.zeros(1, 4, 2), 'max')


def test_tokens_to_map_is_raster_order():
    tokens = torch.arange(1 + 6.0).view(1, 7, 1)   # cls, then patches 1..6
    feature_map = tokens_to_map(tokens, prefix_tokens=1, grid=(2, 3))
    assert feature_map.shape == (1, 1, 2, 3)
    assert feature_map[0, 0, 1, 0] == 4.0          # row 1, column 0
    square = tokens_to_map(torch.zeros(2, 16, 5))
    assert square.shape == (2, 5, 4, 4)
    with pytest.raises(ValueError, match='square'):
        tokens_to_map(torch.zeros(1, 6, 5))


def test_every_pooling_site_equals_its_hand_formula_bitwise():
    """CLIP, the MoCo neck and the classifier heads pool through
    pool_feature; each must give exactly the formula it used to write out."""
    from types import SimpleNamespace

    from pixpretrain.models import CLIP, NonLinearNeck
    from pixpretrain.models.heads import LinearClsHead, PixelClsHead
    torch.manual_seed(0)
    tokens = torch.randn(3, 1 + 6, 4)
    feature_map = torch.randn(3, 4, 2, 3)
    for image_pool, expected in (('cls', tokens[:, 0]),
                                 ('mean', tokens[:, 1:].mean(dim=1))):
        clip = SimpleNamespace(image_pool=image_pool,
                               head=SimpleNamespace(image_dims=4))
        assert torch.equal(CLIP._pool(clip, tokens), expected)
        assert torch.equal(CLIP._pool(clip, feature_map),
                           feature_map.mean(dim=(2, 3)))
        assert torch.equal(CLIP._pool(clip, tokens[:, 0]), tokens[:, 0])
    neck = NonLinearNeck(4, 8, 2)
    assert torch.equal(neck.pool((feature_map, )),
                       feature_map.mean(dim=(2, 3)))
    linear = LinearClsHead(4, 3)
    assert torch.equal(linear(feature_map, None),
                       linear.fc(feature_map.mean(dim=(2, 3))))
    pixel = PixelClsHead(4, 3)
    torch.nn.init.normal_(pixel.fc.weight)
    assert torch.equal(pixel.logits(tokens), pixel.fc(tokens.mean(dim=1)))
