"""Captioning as an image pretext: an image backbone trained by a caption
decoder that cross-attends to its tokens (CapPa, Tschannen et al. 2023,
"Image Captioners Are Scalable Vision Learners Too")."""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.structures import BaseDataElement

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError
from ..utils.caption_generation import generate_captions
from .base import (BasePretrainer, ModuleCfg, build_module,
                   sample_text_tokens)


def caption_tokens(data_samples: Optional[List], pad_id: int = 0,
                   method: str = 'captioning') -> torch.Tensor:
    """The batch's ``text_tokens`` (B, L), cut after the last column that
    holds a non-padding token of any row; ``method`` names who needs them
    in the error for samples without any."""
    return trim_padding(sample_text_tokens(data_samples, method), pad_id)


def trim_padding(tokens: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """(B, L) ids cut after the last column that holds a non-padding token
    of any row (all of them when every one is padding)."""
    used = (tokens != pad_id).any(dim=0).nonzero()
    return tokens[:, :int(used.max()) + 1] if used.numel() else tokens


def image_tokens_of(features: torch.Tensor) -> torch.Tensor:
    """A backbone's last output as (B, M, D) tokens: tokens as they are,
    a feature map (B, C, H, W) as its H * W positions."""
    if features.ndim == 3:
        return features
    if features.ndim == 4:
        return features.flatten(2).transpose(1, 2)
    raise ConfigError('a caption decoder attends to tokens (B, L, D) or a '
                      f'map (B, C, H, W); the backbone\'s last output is '
                      f'{tuple(features.shape)}: pick a backbone (or '
                      'out_indices) whose last output is one of these')


@MODELS.register_module()
class ImageCaptioner(BasePretrainer):
    """Image backbone -> caption head; the loss is the head's caption loss.

    Args:
        backbone: Image encoder; its last output's tokens (class token
            included) are what the decoder attends to.
        head: :class:`CaptionHead` (autoregressive; needs ``text_backbone``)
            or :class:`MaskedCaptionHead` (masked or parallel; embeds the
            tokens itself, so no ``text_backbone``).
        text_backbone: Causal text tower (:class:`TextTransformer`) whose
            per-token features the caption head decodes.
        data_preprocessor: See :class:`BasePretrainer`.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: ModuleCfg,
                 head: ModuleCfg,
                 text_backbone: Optional[ModuleCfg] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, head=head,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.text_backbone = build_module(text_backbone)
        needs_text = getattr(self.head, 'needs_text_features', None)
        if needs_text is None:
            raise ConfigError(
                f'head {type(self.head).__name__} is not a caption head; '
                'use CaptionHead or MaskedCaptionHead')
        if needs_text and self.text_backbone is None:
            raise ConfigError(f'{type(self.head).__name__} decodes a text '
                              "tower's features: set model.text_backbone")
        if not needs_text and self.text_backbone is not None:
            raise ConfigError(f'{type(self.head).__name__} embeds the '
                              'caption itself: remove model.text_backbone')
        if needs_text and self.head.text_dims != \
                self.text_backbone.embed_dims:
            raise ConfigError(
                f'head.text_dims={self.head.text_dims} must equal the text '
                f'backbone width ({self.text_backbone.embed_dims})')

    def image_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, M, D) tokens."""
        return image_tokens_of(self.extract_feat(images)[-1])

    def caption_loss(self, image_tokens: torch.Tensor,
                     tokens: torch.Tensor) -> torch.Tensor:
        """The head's loss on (B, M, D) image tokens and (B, L) ids."""
        return self.head.loss(image_tokens, tokens,
                              *self._text_inputs(tokens))

    def _text_inputs(self, tokens: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """What the head reads of the text tower: the (B, L, D_t) features
        of ``tokens`` for a head that decodes them, none for one that
        embeds the caption itself."""
        if self.head.needs_text_features:
            return (self.text_backbone.encode_tokens(tokens), )
        return ()

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        tokens = caption_tokens(data_samples, self.head.pad_id)
        return dict(loss_caption=self.caption_loss(self.image_tokens(inputs),
                                                   tokens))

    @torch.no_grad()
    def generate(self, images: torch.Tensor, max_len: Optional[int] = None,
                 beam_size: int = 1, use_cache: bool = True) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, max_len) caption ids
        (start, caption, end, padding).

        :class:`CaptionHead`, or a :class:`MaskedCaptionHead` trained
        with CapPa's autoregressive steps (``ar_fraction`` > 0): greedy at
        ``beam_size=1``, beam search above. Other :class:`MaskedCaptionHead`
        trained with ``mask_ratio=1``: parallel decoding, one pass
        (``beam_size`` 1 only). ``max_len`` defaults to the context length
        of the text tower, else of the head.
        """
        return self.generate_from_tokens(self.image_tokens(images), max_len,
                                         beam_size, use_cache)

    def generate_from_tokens(self, image: torch.Tensor,
                             max_len: Optional[int] = None,
                             beam_size: int = 1,
                             use_cache: bool = True) -> torch.Tensor:
        """:meth:`generate` from the (B, M, D) :meth:`image_tokens`, for a
        caller that has them already."""
        if max_len is None:
            max_len = (self.text_backbone or self.head).context_length
        if self.head.needs_text_features or getattr(
                self.head, 'autoregressive', False):
            # Without a text tower the head embeds the caption itself.
            return generate_captions(self.text_backbone, self.head, image,
                                     max_len, beam_size, use_cache)
        if self.head.mask_ratio != 1.0 or beam_size != 1:
            raise ConfigError(
                'MaskedCaptionHead without ar_fraction generates only by '
                'parallel decoding: train it with mask_ratio=1 and generate '
                'with beam_size=1, or train with ar_fraction > 0 (CapPa) '
                'for greedy and beam search')
        return self.head.parallel_captions(image, max_len)

    def caption_nll(self, image_tokens: torch.Tensor, tokens: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per caption: the (B, ) summed NLL of its scored tokens and their
        (B, ) count (the head's ``token_nll``)."""
        nll, scored = self.head.token_nll(image_tokens, tokens,
                                          *self._text_inputs(tokens))
        return nll.sum(dim=1), scored.sum(dim=1)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``caption_tokens`` (max_len, ), greedy; where the
        samples carry reference ``text_tokens``, also ``caption_nll`` and
        ``caption_scored`` (:meth:`caption_nll`, for
        :class:`~pixpretrain.evaluation.CaptionNLL`)."""
        samples = data_samples or [
            BaseDataElement() for _ in range(inputs.shape[0])
        ]
        image = self.image_tokens(inputs)
        for sample, ids in zip(samples, self.generate_from_tokens(image)):
            sample.caption_tokens = ids
        if 'text_tokens' in samples[0]:
            write_caption_nll(samples, *self.caption_nll(
                image, caption_tokens(samples, self.head.pad_id)))
        return samples


def write_caption_nll(samples: List[BaseDataElement], nll: torch.Tensor,
                      scored: torch.Tensor) -> None:
    """Store each caption's summed NLL and scored-token count (B, )."""
    for sample, total, count in zip(samples, nll, scored):
        sample.caption_nll = total
        sample.caption_scored = count
