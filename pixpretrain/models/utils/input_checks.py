"""What a backbone is given, checked where a user's script calls it
directly: a batch of normalised float images, (B, C, H, W), else one
ConfigError naming the fix instead of torch's error from deep inside."""
import torch

from pixpretrain.utils.errors import ConfigError

#: How to turn pipeline pixels into what a backbone takes.
_PREPROCESS = ("run model.data_preprocessor(dict(inputs=images))['inputs'] "
               'first, or use pixpretrain.apis.extract_features')


def check_batch_tensor(images: object, who: str, what: str,
                       fix: str) -> None:
    """Refuse anything but a (B, C, H, W) tensor.

    Args:
        images: What ``who`` was given.
        who: The receiver, for the message (e.g. 'VisionTransformer').
        what: What it takes, e.g. 'torch tensor of 0-255 pixels'.
        fix: How to make a tensor of what was given.

    Raises:
        ConfigError: A non-tensor, or another rank.
    """
    if not isinstance(images, torch.Tensor):
        raise ConfigError(f'{who} takes a (B, C, H, W) {what}, got '
                          f'{type(images).__name__}: {fix}')
    if images.ndim != 4:
        raise ConfigError(f'{who} takes a (B, C, H, W) batch, got shape '
                          f'{tuple(images.shape)}: add the batch dimension '
                          'with images[None], or stack the images')


def check_image_batch(images: object, who: str) -> None:
    """Refuse anything but a float (B, C, H, W) tensor.

    Args:
        images: What ``who`` was given.
        who: The receiver, for the message (e.g. 'VisionTransformer').

    Raises:
        ConfigError: A non-tensor, another rank, or integer pixels.
    """
    check_batch_tensor(images, who, 'torch tensor', _PREPROCESS)
    if not images.is_floating_point():
        raise ConfigError(f'{who} takes normalised float images, got '
                          f'{images.dtype} pixels: {_PREPROCESS}')


def check_palette_tokens(tokens: object, num_colors: int, who: str) -> None:
    """Refuse anything but integer colour indices in [0, ``num_colors``):
    the two ids above are the start and mask tokens, which an image never
    holds, and ids beyond them index out of the embedding.

    Raises:
        ConfigError: Naming what was given and the fix.
    """
    if not isinstance(tokens, torch.Tensor) or tokens.is_floating_point():
        raise ConfigError(
            f'{who} takes integer colour indices (B, H, W) or (B, N), got '
            f"{getattr(tokens, 'dtype', type(tokens).__name__)}: quantise "
            "pixels with the config's ColorQuantize palette")
    if tokens.numel() and (int(tokens.min()) < 0
                           or int(tokens.max()) >= num_colors):
        raise ConfigError(
            f'{who}: tokens must lie in [0, num_colors={num_colors}), got '
            f'{int(tokens.min())} to {int(tokens.max())}: quantise pixels '
            "with the config's ColorQuantize palette")
