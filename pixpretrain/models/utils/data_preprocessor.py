"""Moves uint8 batches to the device and normalises them there."""
from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from pixpretrain.registry import MODELS

Batch = Union[torch.Tensor, Sequence[torch.Tensor]]


@MODELS.register_module()
class PixelDataPreprocessor(BaseDataPreprocessor):
    """uint8 (B, C, H, W) on the host -> normalised float on the device.

    Workers hand over uint8 so that only a quarter of the bytes cross to the
    device; the conversion and ``(x - mean) / std`` run there.

    Args:
        mean: Per-channel mean on the 0-255 scale (ImageNet's by default).
        std: Per-channel std on the 0-255 scale.
        channels_last: Return channels-last memory format (faster convs).
        non_blocking: Copy host->device without waiting (pinned memory).
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 channels_last: bool = False,
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)
        self.channels_last = channels_last

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        images = (images.float() - self.mean) / self.std
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast ``data['inputs']`` (a batch, or a list of views) to the device.

        Returns:
            ``dict(inputs=..., data_samples=...)`` with float inputs of the
            same structure (tensor, or list of tensors for multi-view data).
        """
        data = self.cast_data(data)
        inputs: Batch = data['inputs']
        if isinstance(inputs, torch.Tensor):
            inputs = self.normalize(inputs)
        else:
            inputs = [self.normalize(view) for view in inputs]
        data_samples: Optional[list] = data.get('data_samples')
        return dict(inputs=inputs, data_samples=data_samples)

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised float -> uint8 in [0, 255], for pictures."""
        return (images * self.std + self.mean).clamp(0, 255).round().to(
            torch.uint8)
