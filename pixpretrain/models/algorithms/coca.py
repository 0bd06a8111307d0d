"""CoCa (Yu et al. 2022, "CoCa: Contrastive Captioners are Image-Text
Foundation Models"): CLIP's contrastive loss and a captioning loss on one
image backbone and one text tower."""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.structures import BaseDataElement

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import bad_value
from ..utils import random_masking
from ..utils.attentional_pooler import AttentionalPooler
from ..utils.caption_generation import generate_captions
from .base import ModuleCfg, build_module
from .clip import CLIP
from .image_captioner import (caption_tokens, image_tokens_of,
                              write_caption_nll)


@MODELS.register_module()
class CoCa(CLIP):
    """One image backbone, one causal text tower (the unimodal layers),
    two heads: :class:`ContrastiveTextHead` on the image's attentional-pool
    feature and the text tower's feature at end-of-text, and
    :class:`CaptionHead` (the multimodal layers: cross-attention to the
    image tokens) on the text tower's per-token features.

    The loss is ``contrastive_weight * L_con + caption_weight * L_cap``,
    1 and 2 as in the paper (section 3.2, lambda_Con = 1, lambda_Cap = 2);
    both weighted terms are logged.

    Differences from the paper, kept small for CPU training: the contrastive
    text feature is read at end-of-text (as CLIP) rather than at an appended
    class token, and the caption decoder attends to the backbone's tokens
    directly rather than to a 256-query attentional pool.

    Args:
        backbone: A token backbone (e.g. :class:`VisionTransformer`).
        text_backbone: :class:`TextTransformer`.
        head: :class:`ContrastiveTextHead`.
        caption_head: :class:`CaptionHead`.
        contrastive_weight, caption_weight: Loss weights.
        pool_heads: Heads of the attentional pooler.
        image_pool: 'attention', the only pooling CoCa has (the key is
            CLIP's, whose configs CoCa's extend).
        mask_ratio: FLIP patch dropping during training, as :class:`CLIP`.
        data_preprocessor, init_cfg: As :class:`CLIP`.
    """

    required_parts = ('backbone', 'head', 'text_backbone', 'caption_head')

    def __init__(self,
                 backbone: ModuleCfg,
                 text_backbone: ModuleCfg,
                 head: ModuleCfg,
                 caption_head: ModuleCfg,
                 contrastive_weight: float = 1.0,
                 caption_weight: float = 2.0,
                 pool_heads: int = 8,
                 image_pool: str = 'attention',
                 mask_ratio: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        for key, value in (('contrastive_weight', contrastive_weight),
                           ('caption_weight', caption_weight)):
            if not value >= 0:
                raise bad_value(key, value, 'must be a loss weight >= 0 '
                                '(CoCa: contrastive 1, caption 2)')
        if image_pool != 'attention':
            raise bad_value('image_pool', image_pool,
                            "CoCa pools by attention (allowed: 'attention')")
        super().__init__(backbone=backbone, text_backbone=text_backbone,
                         head=head, mask_ratio=mask_ratio,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.caption_head = build_module(caption_head)
        self.contrastive_weight = contrastive_weight
        self.caption_weight = caption_weight
        self.pooler = AttentionalPooler(self.head.image_dims, pool_heads)
        if self.caption_head.text_dims != self.text_backbone.embed_dims:
            raise bad_value('caption_head.text_dims',
                            self.caption_head.text_dims,
                            'must equal the text backbone width (allowed: '
                            f'{self.text_backbone.embed_dims})')

    def image_tokens(self, images: torch.Tensor,
                     mask_ratio: float = 0.0) -> torch.Tensor:
        """(B, C, H, W) -> (B, M, D) backbone tokens, ``mask_ratio`` of the
        patches dropped (FLIP)."""
        if mask_ratio == 0.0:
            return image_tokens_of(self.extract_feat(images)[-1])
        visible, _, _ = random_masking(self.backbone.embed(images),
                                       mask_ratio)
        return self.backbone.encode(visible)

    def image_features(self, images: torch.Tensor,
                       mask_ratio: float = 0.0) -> torch.Tensor:
        """(B, C, H, W) -> (B, D): the attentional pool of the tokens."""
        return self.pooler(self.image_tokens(images, mask_ratio))[:, 0]

    def text_tower(self, tokens: torch.Tensor
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, L) ids -> the (B, L, D_t) per-token features the caption
        head decodes and the (B, D_t) end-of-text feature the contrastive
        head embeds."""
        text = self.text_backbone.encode_tokens(tokens)
        eot = self.text_backbone.eot_index(tokens)  # (B, )
        return text, text[torch.arange(len(tokens), device=text.device), eot]

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        tokens = caption_tokens(data_samples, self.caption_head.pad_id,
                                'CoCa')  # (B, L)
        image = self.image_tokens(inputs, self.mask_ratio)  # (B, M, D)
        text, text_feats = self.text_tower(tokens)
        contrastive = self.head.loss(self.pooler(image)[:, 0], text_feats)
        caption = self.caption_head.loss(image, tokens, text)  # one pass
        return dict(loss_contrastive=self.contrastive_weight * contrastive,
                    loss_caption=self.caption_weight * caption,
                    logit_scale=self.head.scale().detach())

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``image_embedding``; where the samples carry
        ``text_tokens``, also ``text_embedding``, and the caption's
        ``caption_nll`` and ``caption_scored`` (as
        :meth:`ImageCaptioner.predict`)."""
        samples = data_samples or [
            BaseDataElement() for _ in range(inputs.shape[0])
        ]
        image = self.image_tokens(inputs)  # (B, M, D)
        embeddings = self.head.embed_image(self.pooler(image)[:, 0])
        for sample, emb in zip(samples, embeddings):
            sample.image_embedding = emb
        if 'text_tokens' not in samples[0]:
            return samples
        tokens = caption_tokens(samples, self.caption_head.pad_id,
                                'CoCa')  # (B, L)
        text, text_feats = self.text_tower(tokens)
        for sample, emb in zip(samples, self.head.embed_text(text_feats)):
            sample.text_embedding = emb
        nll, scored = self.caption_head.token_nll(image, tokens, text)
        write_caption_nll(samples, nll.sum(dim=1), scored.sum(dim=1))
        return samples

    def caption_nll(self, image_tokens: torch.Tensor, tokens: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per caption: the (B, ) summed NLL of its caption and end tokens
        and their (B, ) count, as :meth:`ImageCaptioner.caption_nll`."""
        nll, scored = self.caption_head.token_nll(
            image_tokens, tokens, self.text_backbone.encode_tokens(tokens))
        return nll.sum(dim=1), scored.sum(dim=1)

    @torch.no_grad()
    def generate(self, images: torch.Tensor, max_len: Optional[int] = None,
                 beam_size: int = 1, use_cache: bool = True) -> torch.Tensor:
        """Captions, as :meth:`ImageCaptioner.generate`."""
        return self.generate_from_tokens(self.image_tokens(images), max_len,
                                         beam_size, use_cache)

    def generate_from_tokens(self, image: torch.Tensor,
                             max_len: Optional[int] = None,
                             beam_size: int = 1,
                             use_cache: bool = True) -> torch.Tensor:
        """Captions from the (B, M, D) :meth:`image_tokens`."""
        if max_len is None:
            max_len = self.text_backbone.context_length
        return generate_captions(self.text_backbone, self.caption_head,
                                 image, max_len, beam_size, use_cache)
