import pytest
import torch

from pixpretrain.models.utils import MixupCutmix, cutmix, cutmix_box, mixup
from pixpretrain.utils import ConfigError


def two_images(height=4, width=4):
    """Image 0 all zeros (class 0), image 1 all ones (class 1)."""
    images = torch.stack([torch.zeros(3, height, width),
                          torch.ones(3, height, width)])
    return images, torch.eye(2)


def test_mixup_blends_images_and_labels_by_lam():
    images, targets = two_images()
    mixed, mixed_targets = mixup(images, targets, lam=0.7)
    # Image 0 = 0.7 * zeros + 0.3 * ones; image 1 = 0.7 * ones + 0.3 * zeros.
    torch.testing.assert_close(mixed[0], torch.full((3, 4, 4), 0.3))
    torch.testing.assert_close(mixed[1], torch.full((3, 4, 4), 0.7))
    torch.testing.assert_close(mixed_targets,
                               torch.tensor([[0.7, 0.3], [0.3, 0.7]]))


def test_cutmix_labels_follow_the_pasted_area():
    images, targets = two_images(4, 8)
    mixed, mixed_targets = cutmix(images, targets, box=(1, 3, 2, 5))
    # Image 0 received a 2 x 3 patch of ones: 6 of its 32 pixels.
    assert mixed[0].sum() == 3 * 6
    assert torch.equal(mixed[0, :, 1:3, 2:5], torch.ones(3, 2, 3))
    torch.testing.assert_close(mixed_targets[0],
                               torch.tensor([1 - 6 / 32, 6 / 32]))
    torch.testing.assert_close(mixed_targets[1],
                               torch.tensor([6 / 32, 1 - 6 / 32]))
    assert images[0].sum() == 0  # the input is left alone


@pytest.mark.parametrize('lam', [0.2, 0.5, 0.9])
def test_cutmix_box_covers_at_most_one_minus_lam(lam):
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        top, bottom, left, right = cutmix_box(32, 32, lam, generator)
        assert 0 <= top <= bottom <= 32 and 0 <= left <= right <= 32
        assert (bottom - top) * (right - left) <= (1 - lam) * 32 * 32 + 1e-9


def test_mixed_batches_keep_label_distributions():
    torch.manual_seed(0)
    augment = MixupCutmix(mixup_alpha=0.8, cutmix_alpha=1.0)
    images = torch.rand(6, 3, 16, 16)
    targets = torch.eye(6)
    for _ in range(10):
        mixed, mixed_targets = augment(images, targets)
        assert mixed.shape == images.shape
        torch.testing.assert_close(mixed_targets.sum(1), torch.ones(6))
        # Each image holds only itself and its mirror partner.
        partner = mixed_targets[torch.arange(6), torch.arange(6).flip(0)]
        own = mixed_targets.diagonal()
        torch.testing.assert_close(own + partner, torch.ones(6))


def test_invalid_values_fail():
    with pytest.raises(ConfigError, match='mixup_alpha'):
        MixupCutmix(mixup_alpha=-1)
    with pytest.raises(ConfigError, match='both 0'):
        MixupCutmix(mixup_alpha=0, cutmix_alpha=0)
    with pytest.raises(ConfigError, match='switch_prob'):
        MixupCutmix(switch_prob=1.5)
