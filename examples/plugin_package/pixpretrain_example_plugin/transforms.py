"""A transform: posterize, on pixpretrain's HWC uint8 RGB arrays."""
import numpy as np
from mmcv.transforms import BaseTransform

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError


@TRANSFORMS.register_module()
class RandomPosterize(BaseTransform):
    """Keep only the ``bits`` most significant bits of every channel.

    Random numbers come from numpy's global RNG, which mmengine seeds per
    worker, like pixpretrain's own transforms.

    Args:
        bits: Bits kept per channel, 1 to 8.
        prob: Probability of posterizing an image, in [0, 1].
    """

    def __init__(self, bits: int = 4, prob: float = 0.5) -> None:
        if not (isinstance(bits, int) and 1 <= bits <= 8):
            raise ConfigError(
                f'RandomPosterize bits must be an int in [1, 8], got {bits!r}')
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(
                f'RandomPosterize prob must lie in [0, 1], got {prob!r}')
        self.bits = bits
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            keep = np.uint8((0xFF << (8 - self.bits)) & 0xFF)
            results['img'] = results['img'] & keep
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(bits={self.bits}, prob={self.prob})'
