"""Supervised classification on a (pretrained) backbone: fine-tuning and
frozen-backbone linear probing through the Runner."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from pixpretrain.utils.pretrained import load_pretrained
from ..utils import feature_width, num_prefix_tokens, tokens_to_map
from .base import BasePretrainer, ModuleCfg


@MODELS.register_module()
class ImageClassifier(BasePretrainer):
    """Backbone's last layer -> head -> class scores.

    The head receives the patch features as a map (B, D, h, w) and the cls
    token (B, D), or None for backbones without one, so one head works on
    ViTs, token models without a cls token and ResNets alike.

    Args:
        backbone: Config or module of the encoder; its ``out_indices``
            (default: the last layer) feed the head.
        head: A :class:`ClsHead` config or module.
        backbone_checkpoint: A pretrainer checkpoint whose ``backbone.``
            keys initialise the backbone in :meth:`init_weights` (strictly:
            see :func:`pixpretrain.utils.load_pretrained`).
        frozen_backbone: Train the head only; the backbone stays in eval
            mode with its gradients off (linear probing).
        batch_augments: Config of a batch augment such as
            :class:`MixupCutmix`, applied in training.
        data_preprocessor: See :class:`BasePretrainer`.
    """

    def __init__(self,
                 backbone: ModuleCfg,
                 head: ModuleCfg,
                 backbone_checkpoint: Optional[str] = None,
                 frozen_backbone: bool = False,
                 batch_augments: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, head=head,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone_checkpoint = backbone_checkpoint
        self.frozen_backbone = frozen_backbone
        self.batch_augments = (MODELS.build(batch_augments)
                               if isinstance(batch_augments, dict) else
                               batch_augments)
        self.prefix_tokens = num_prefix_tokens(self.backbone)
        self.grid = getattr(self.backbone, 'grid', None)
        self._check_parts_agree()
        if frozen_backbone:
            self.backbone.requires_grad_(False)

    def _check_parts_agree(self) -> None:
        width = feature_width(self.backbone)
        if width is not None and self.head.in_channels != width:
            raise bad_value('head.in_channels', self.head.in_channels,
                            f'must equal the backbone width (allowed: '
                            f'{width})')
        if self.head.pool == 'cls' and self.prefix_tokens == 0:
            raise ConfigError(
                f"head.pool='cls' needs a cls token; "
                f'{type(self.backbone).__name__} has none')

    def init_weights(self) -> None:
        super().init_weights()
        if self.backbone_checkpoint:
            load_pretrained(self.backbone, self.backbone_checkpoint,
                            prefix='backbone.')

    def train(self, mode: bool = True) -> 'ImageClassifier':
        super().train(mode)
        if self.frozen_backbone:
            # No drop path, and normalisation statistics stay as loaded.
            self.backbone.eval()
        return self

    def features(self, inputs: torch.Tensor):
        """(B, C, H, W) -> patch map (B, D, h, w) and cls token (B, D) or
        None, from the backbone's last requested layer."""
        last = self.extract_feat(inputs)[-1]
        cls_token = last[:, 0] if last.ndim == 3 and self.prefix_tokens \
            else None
        return tokens_to_map(last, self.prefix_tokens, self.grid), cls_token

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        labels = torch.stack([s.gt_label for s in data_samples])
        targets = F.one_hot(labels.to(inputs.device),
                            self.head.num_classes).float()   # (B, C)
        if self.batch_augments is not None:
            inputs, targets = self.batch_augments(inputs, targets)
        feature_map, cls_token = self.features(inputs)
        return dict(loss=self.head.loss(feature_map, cls_token, targets))

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``pred_score`` (C,) probabilities, ``pred_label``."""
        scores = self.head.predict(*self.features(inputs))
        samples = data_samples or [BaseDataElement() for _ in scores]
        for sample, score in zip(samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax()
        return samples
