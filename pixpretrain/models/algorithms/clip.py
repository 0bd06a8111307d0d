"""CLIP (Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision"), with FLIP's patch dropping (Li et al. 2023)."""
from typing import Dict, List, Optional

import torch
from mmengine.structures import BaseDataElement

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import pool_feature, random_masking
from .base import (BasePretrainer, ModuleCfg, build_module,
                   sample_text_tokens)

IMAGE_POOLS = ('cls', 'mean')


@MODELS.register_module()
class CLIP(BasePretrainer):
    """An image encoder and a text encoder trained so that matching pairs
    score highest in the batch.

    The image backbone may be any registered one whose ``forward`` returns a
    tuple of features; the last is pooled: a feature map (B, C, H, W) by
    global average, tokens (B, 1 + L, D) (class token first, as
    :class:`VisionTransformer`) by ``image_pool``, and (B, D) is used as is.

    Args:
        backbone: Image encoder config or module.
        text_backbone: Text encoder, e.g. :class:`TextTransformer`.
        head: :class:`ContrastiveTextHead` (projections and loss).
        mask_ratio: FLIP: fraction of image patches dropped during training,
            in [0, 1); 0 keeps them all. Needs a backbone with ``embed`` and
            ``encode`` (a ViT). Evaluation always sees every patch.
        image_pool: 'cls' (the class token, as CLIP's ViT) or 'mean' (mean of
            the patch tokens) for token outputs.
        data_preprocessor: Batch preprocessor config; see
            :class:`BasePretrainer`.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: ModuleCfg,
                 text_backbone: ModuleCfg,
                 head: ModuleCfg,
                 mask_ratio: float = 0.0,
                 image_pool: str = 'cls',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not 0.0 <= mask_ratio < 1.0:
            raise bad_value('mask_ratio', mask_ratio,
                            'must be the fraction of image patches FLIP '
                            'drops, 0 for none (allowed: 0 <= mask_ratio '
                            '< 1)')
        if image_pool not in IMAGE_POOLS:
            raise ConfigError(f'image_pool must be one of {IMAGE_POOLS}, got '
                              f'{image_pool!r}')
        super().__init__(backbone=backbone, head=head,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.text_backbone = build_module(text_backbone)
        self.mask_ratio = mask_ratio
        self.image_pool = image_pool
        self._check_parts_agree()

    def _check_parts_agree(self) -> None:
        """Fail at build time, naming the key, when the parts disagree."""
        text_width = self.text_backbone.embed_dims
        if self.head.text_dims != text_width:
            raise bad_value('head.text_dims', self.head.text_dims,
                            'must equal the text backbone width (allowed: '
                            f'{text_width})')
        image_width = getattr(self.backbone, 'embed_dims', None)
        if image_width is not None and self.head.image_dims != image_width:
            raise bad_value('head.image_dims', self.head.image_dims,
                            'must equal the backbone width (allowed: '
                            f'{image_width})')
        if self.mask_ratio > 0 and not (hasattr(self.backbone, 'embed') and
                                        hasattr(self.backbone, 'encode')):
            raise ConfigError(
                f'mask_ratio={self.mask_ratio} drops patches, which needs a '
                'token backbone with embed() and encode() (e.g. '
                f'VisionTransformer), not {type(self.backbone).__name__}; '
                'set mask_ratio=0')

    def _pool(self, feats: torch.Tensor) -> torch.Tensor:
        """Last backbone output -> (B, D)."""
        if feats.ndim in (3, 4):
            # Tokens are (B, 1 + L, D), class token first; a map only
            # averages, whatever image_pool says.
            pool = 'cls' if feats.ndim == 3 and self.image_pool == 'cls' \
                else 'avg'
            pooled = pool_feature(feats, pool, prefix_tokens=1)
        elif feats.ndim == 2:
            pooled = feats
        else:
            raise ConfigError(
                'the image backbone\'s last output is '
                f'{tuple(feats.shape)}; CLIP pools a (B, C, H, W) map, '
                '(B, L, D) tokens or (B, D) features: pick a backbone (or '
                'out_indices) whose last output is one of these')
        if pooled.shape[1] != self.head.image_dims:
            raise ConfigError(
                f'head.image_dims={self.head.image_dims} does not match the '
                f'backbone feature width ({pooled.shape[1]})')
        return pooled

    def image_features(self, images: torch.Tensor,
                       mask_ratio: float = 0.0) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, D) pooled features, with
        ``mask_ratio`` of the patches dropped at random (FLIP)."""
        if mask_ratio == 0.0:
            return self._pool(self.extract_feat(images)[-1])
        tokens = self.backbone.embed(images)  # (B, L, D)
        visible, _, _ = random_masking(tokens, mask_ratio)
        return self._pool(self.backbone.encode(visible))  # (B, 1 + L', D)

    def embed_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, E) unit embeddings."""
        return self.head.embed_image(self.image_features(images))

    def embed_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids -> (B, E) unit embeddings."""
        return self.head.embed_text(self.text_backbone(tokens)[0])

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        # (B, L)
        tokens = sample_text_tokens(data_samples, type(self).__name__)
        image_feats = self.image_features(inputs, self.mask_ratio)
        text_feats = self.text_backbone(tokens)[0]
        # Keys without 'loss' are logged, not summed into the loss.
        return dict(loss=self.head.loss(image_feats, text_feats),
                    logit_scale=self.head.scale().detach())

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``image_embedding`` (E, ), unit length, all patches
        seen; ``text_embedding`` too when the samples carry text tokens."""
        samples = data_samples or [
            BaseDataElement() for _ in range(inputs.shape[0])
        ]
        for sample, emb in zip(samples, self.embed_image(inputs)):
            sample.image_embedding = emb
        if 'text_tokens' in samples[0]:
            text = self.embed_text(
                sample_text_tokens(samples, type(self).__name__))
            for sample, emb in zip(samples, text):
                sample.text_embedding = emb
        return samples
