"""Packing a results dict into the model's ``(inputs, data_samples)`` pair."""
from typing import List, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError
from .image_ops import hwc_to_chw


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """Turn ``results`` into ``dict(inputs=..., data_samples=...)``.

    ``inputs`` stays uint8 (CHW, contiguous): normalisation and the move to
    float happen on the device in the model's data preprocessor, which keeps
    worker-to-main-process transfers four times smaller than float32.

    Args:
        meta_keys (Sequence[str]): Keys of ``results`` copied into the data
            sample's metainfo when present. Defaults to
            ``('img_path', 'ori_shape', 'img_shape')``.
        inputs_key (str): What becomes ``inputs``: 'img' (the image) or
            'tokens' (the (h, w) palette ids of ``ColorQuantize``, packed
            as an int64 tensor). Defaults to 'img'.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'ori_shape',
                                             'img_shape'),
                 inputs_key: str = 'img') -> None:
        if inputs_key not in ('img', 'tokens'):
            raise ConfigError("PackInputs inputs_key must be 'img' or "
                              f"'tokens', got {inputs_key!r}")
        self.meta_keys = tuple(meta_keys)
        self.inputs_key = inputs_key

    def transform(self, results: dict) -> dict:
        """Pack ``results[inputs_key]`` and its labels/metadata.

        Args:
            results (dict): Must hold ``img`` (HWC uint8, or a list of them
                from :class:`MultiView`), or ``tokens`` ((h, w) integers)
                when ``inputs_key='tokens'``; ``gt_label`` and
                ``text_tokens`` (from :class:`TokenizeText`) are packed when
                present.

        Returns:
            dict: ``inputs`` (uint8 tensor ``(3, H, W)``, a list of them for
            a list of views, or int64 ``(h, w)`` tokens) and ``data_samples``
            (:class:`mmengine.structures.BaseDataElement`, with ``gt_label``
            as a 0-d long tensor when labelled and ``text_tokens`` as a
            ``(context_length, )`` long tensor when captioned).
        """
        if self.inputs_key == 'tokens':
            inputs = self._tokens(results)
        else:
            inputs = self._image(results)
        metainfo = {k: results[k] for k in self.meta_keys if k in results}
        data_sample = BaseDataElement(metainfo=metainfo)
        if results.get('gt_label') is not None:
            data_sample.gt_label = torch.tensor(results['gt_label'],
                                                dtype=torch.long)
        if results.get('text_tokens') is not None:
            data_sample.text_tokens = torch.as_tensor(results['text_tokens'],
                                                      dtype=torch.long)
        return dict(inputs=inputs, data_samples=data_sample)

    @staticmethod
    def _tokens(results: dict) -> torch.Tensor:
        tokens = results.get('tokens')
        if not isinstance(tokens, np.ndarray) or tokens.ndim != 2 or \
                not np.issubdtype(tokens.dtype, np.integer):
            raise TypeError(
                "PackInputs(inputs_key='tokens') expects an (h, w) integer "
                "array in results['tokens'] (put ColorQuantize before it), "
                f'got {type(tokens).__name__} '
                f'{getattr(tokens, "dtype", "")} '
                f'{getattr(tokens, "shape", "")}')
        return torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64))

    @staticmethod
    def _image(results: dict) -> Union[torch.Tensor, List[torch.Tensor]]:
        img = results['img']
        if isinstance(img, (list, tuple)):
            return [PackInputs._to_tensor(view) for view in img]
        return PackInputs._to_tensor(img)

    @staticmethod
    def _to_tensor(img: np.ndarray) -> torch.Tensor:
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 \
                or img.ndim != 3:
            raise TypeError('PackInputs expects an HWC uint8 array in '
                            f"results['img'], got {type(img).__name__} "
                            f'{getattr(img, "dtype", "")} '
                            f'{getattr(img, "shape", "")}')
        return torch.from_numpy(hwc_to_chw(img))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'inputs_key={self.inputs_key!r})')
