"""iGPT's two objectives over palette tokens: next pixel and masked pixel."""
import math
import numbers
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import pool_feature


def shift_right(tokens: torch.Tensor, start_token: int) -> torch.Tensor:
    """(B, N) x_0 .. x_{N-1} -> (B, N) start, x_0 .. x_{N-2}."""
    start = tokens.new_full((tokens.shape[0], 1), start_token)
    return torch.cat([start, tokens[:, :-1]], dim=1)


class _PixelHead(BaseModule):
    """A zero-initialised linear map from features to colour logits.

    The paper zero-initialises every projection that produces logits, so
    the untrained model predicts the uniform distribution: its loss starts
    at ln K.
    """

    def __init__(self, embed_dims: int, num_colors: int = 512) -> None:
        super().__init__()
        for key, value, low in (('embed_dims', embed_dims, 1),
                                ('num_colors', num_colors, 2)):
            if not isinstance(value, numbers.Integral) or value < low:
                raise ConfigError(
                    f'{key} must be an int >= {low}, got {value!r}')
        self.embed_dims = embed_dims
        self.num_colors = num_colors
        self.proj = nn.Linear(embed_dims, num_colors, bias=False)
        nn.init.zeros_(self.proj.weight)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, K) unnormalised colour log-probabilities."""
        return self.proj(features)


@MODELS.register_module()
class ARPixelHead(_PixelHead):
    """Next-pixel prediction, L_AR = E[-log p(x_t | x_<t)] (the paper's
    autoregressive objective).

    The backbone reads the sequence shifted right by one, a start token in
    front (:meth:`shift_right`), with causal attention; position t then sees
    x_0 .. x_{t-1} and is scored on x_t. Scores cover the K colours only (a
    start token is never a target).

    Args:
        embed_dims: Backbone width D.
        num_colors: Palette size K; the start token is K (the backbone's
            convention).
    """

    causal = True  # the attention its backbone pass uses

    def shift_right(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N) x_0 .. x_{N-1} -> (B, N) start, x_0 .. x_{N-2}."""
        return shift_right(tokens, self.num_colors)

    def loss(self, features: torch.Tensor,
             tokens: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy in nats.

        Args:
            features: (B, N, D) causal features of :meth:`shift_right`
                (tokens).
            tokens: (B, N) the unshifted tokens: the targets.
        """
        logits = self.logits(features).float()  # (B, N, K)
        return F.cross_entropy(logits.flatten(0, 1), tokens.flatten())

    @staticmethod
    def bits_per_dim(loss: torch.Tensor) -> torch.Tensor:
        """Nats per token -> bits per dimension, a dimension being one token
        of the sequence (one pixel)."""
        return loss / math.log(2)


@MODELS.register_module()
class MaskedPixelHead(_PixelHead):
    """Masked-pixel prediction (the paper's BERT objective).

    Every position of every image is masked independently with probability
    ``mask_ratio`` (so images in a batch get different masks and counts);
    masked positions read the mask token, and the loss is the cross-entropy
    on those positions only, features from bidirectional attention.

    Args:
        embed_dims: Backbone width D.
        num_colors: Palette size K; the mask token is K + 1 (the backbone's
            convention).
        mask_ratio: Probability of masking each position, in (0, 1); 0.15
            as BERT and the paper.
    """

    causal = False  # the attention its backbone pass uses

    def __init__(self, embed_dims: int, num_colors: int = 512,
                 mask_ratio: float = 0.15) -> None:
        super().__init__(embed_dims, num_colors)
        if not 0.0 < mask_ratio < 1.0:
            raise bad_value('head.mask_ratio', mask_ratio,
                            'must be the probability of masking a position '
                            '(allowed: 0 < mask_ratio < 1)')
        self.mask_ratio = mask_ratio

    @property
    def mask_token(self) -> int:
        return self.num_colors + 1

    def corrupt(self, tokens: torch.Tensor,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw a mask per image and hide the masked tokens.

        Args:
            tokens: (B, N) tokens.
            generator: Optional RNG for the draw.

        Returns:
            (B, N) tokens with masked positions set to the mask token, and
            the (B, N) bool mask, True where masked.
        """
        device = tokens.device if generator is None else generator.device
        draw = torch.rand(tokens.shape, generator=generator, device=device)
        mask = draw.to(tokens.device) < self.mask_ratio
        return tokens.masked_fill(mask, self.mask_token), mask

    def loss(self, features: torch.Tensor, tokens: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy in nats on masked positions: the mean over each
        image's masked positions, then over images (the paper's code);
        images that drew no masked position are left out.

        Args:
            features: (B, N, D) bidirectional features of the corrupted
                tokens.
            tokens: (B, N) the original tokens: the targets.
            mask: (B, N) True where masked.
        """
        logits = self.logits(features).float()  # (B, N, K)
        per_token = F.cross_entropy(logits.transpose(1, 2), tokens,
                                    reduction='none')  # (B, N)
        mask = mask.float()
        count = mask.sum(1)  # (B,)
        per_image = (per_token * mask).sum(1) / count.clamp(min=1)
        has_masked = (count > 0).float()
        return (per_image * has_masked).sum() / has_masked.sum().clamp(min=1)


@MODELS.register_module()
class PixelClsHead(BaseModule):
    """iGPT's fine-tuning classifier, L_CLF: the average over positions of
    the last layer's features, a zero-initialised linear map to class
    logits, and the cross-entropy with the labels.

    Beside an :class:`ARPixelHead` it reads the features of the AR pass, so
    one forward serves L_GEN + L_CLF (the paper's joint fine-tuning); alone,
    it reads one unmasked pass (L_CLF only).

    Args:
        embed_dims: Backbone width D.
        num_classes: Number of classes C.
        label_smoothing: Cross-entropy label smoothing, in [0, 1).
    """

    def __init__(self, embed_dims: int, num_classes: int,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        for key, value, low in (('embed_dims', embed_dims, 1),
                                ('num_classes', num_classes, 2)):
            if not isinstance(value, numbers.Integral) or value < low:
                raise bad_value(f'head.{key}', value,
                                f'must be an int (allowed: >= {low})')
        if not 0.0 <= label_smoothing < 1.0:
            raise bad_value('head.label_smoothing', label_smoothing,
                            'must lie in [0, 1) (allowed: 0 <= '
                            'label_smoothing < 1)')
        self.embed_dims = embed_dims
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.fc = nn.Linear(embed_dims, num_classes)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, N, D) features -> (B, C) class logits."""
        return self.fc(pool_feature(features, 'avg'))

    def loss(self, features: torch.Tensor,
             labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats.

        Args:
            features: (B, N, D) last-layer features.
            labels: (B,) class indices.
        """
        return F.cross_entropy(self.logits(features).float(), labels,
                               label_smoothing=self.label_smoothing)
