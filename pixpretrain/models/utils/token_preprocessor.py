"""Moves batches of token grids to the device, untouched."""
import torch
from mmengine.model import BaseDataPreprocessor

from pixpretrain.registry import MODELS


@MODELS.register_module()
class TokenDataPreprocessor(BaseDataPreprocessor):
    """Integer token grids (B, H, W) on the host -> int64 on the device.

    For models over discrete tokens (iGPT's palette indices, packed by
    ``ColorQuantize`` + ``PackInputs(inputs_key='tokens')``): there is
    nothing to normalise.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Returns ``dict(inputs=..., data_samples=...)``, inputs int64."""
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, torch.Tensor) or inputs.is_floating_point():
            raise TypeError(
                'TokenDataPreprocessor expects a batch of integer tokens; '
                'end the pipeline with ColorQuantize and '
                "PackInputs(inputs_key='tokens'), got "
                f'{getattr(inputs, "dtype", type(inputs).__name__)}')
        return dict(inputs=inputs.long(),
                    data_samples=data.get('data_samples'))
