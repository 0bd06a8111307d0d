"""CLIP's loss: symmetric InfoNCE between image and text embeddings."""
import math

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError
from ..utils import gather_with_grad, rank


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


@MODELS.register_module()
class ContrastiveTextHead(BaseModule):
    """Projects both modalities to a shared space and scores matching pairs.

    Every image is classified among all captions of the global batch and
    every caption among all images; the matching pair is the target. Logits
    are cosine similarities times a learned scale ``exp(t)``, ``t``
    initialised to ln(1 / 0.07) (Radford et al.).

    ``t`` itself is kept in [0, ln(max_logit_scale)]: every :meth:`loss`
    first clamps the parameter in place, which equals OpenCLIP's clamp after
    each optimizer step (nothing reads ``t`` in between) and needs no hook
    that a config could forget. The loss then uses ``exp(t)`` unclamped, so
    ``t`` always gets a gradient: a clamp inside the graph would give it
    none at or beyond the bound (torch's clamp gradient is 0 there), and
    without weight decay it could never come back.

    With several ranks, each scores its own rows against the batch gathered
    from all ranks (:func:`gather_with_grad`), so the loss uses the global
    batch while each rank computes only B x (W * B) logits.

    Args:
        image_dims: Width of the pooled image features.
        text_dims: Width of the pooled text features.
        embed_dims: Width of the shared embedding space.
        init_temperature: Initial softmax temperature, 1 / exp(t).
        max_logit_scale: Upper bound of exp(t); the lower bound is 1.
    """

    def __init__(self,
                 image_dims: int,
                 text_dims: int,
                 embed_dims: int = 512,
                 init_temperature: float = 0.07,
                 max_logit_scale: float = 100.0) -> None:
        super().__init__()
        for key, value in (('image_dims', image_dims),
                           ('text_dims', text_dims),
                           ('embed_dims', embed_dims)):
            if value < 1:
                raise ConfigError(f'{key} must be a positive width, got '
                                  f'{value}')
        if max_logit_scale <= 1.0:
            raise ConfigError(
                f'max_logit_scale must be > 1, got {max_logit_scale}')
        if not 1.0 / max_logit_scale <= init_temperature <= 1.0:
            raise ConfigError(
                f'init_temperature must lie in [1 / max_logit_scale, 1] = '
                f'[{1.0 / max_logit_scale:g}, 1], got {init_temperature}')
        self.image_dims, self.text_dims = image_dims, text_dims
        self.image_proj = nn.Linear(image_dims, embed_dims, bias=False)
        self.text_proj = nn.Linear(text_dims, embed_dims, bias=False)
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / init_temperature)))
        self.max_log_scale = math.log(max_logit_scale)
        # CLIP's initialisation of the projections: std = width ** -0.5.
        nn.init.normal_(self.image_proj.weight, std=image_dims**-0.5)
        nn.init.normal_(self.text_proj.weight, std=text_dims**-0.5)

    def clamp_logit_scale_(self) -> None:
        """Clamps the parameter ``t`` in place to [0, ln(max_logit_scale)]
        (outside autograd: a projection, not part of the loss)."""
        with torch.no_grad():
            self.logit_scale.clamp_(0.0, self.max_log_scale)

    def scale(self) -> torch.Tensor:
        """The scale the next :meth:`loss` uses: exp(t), t clamped to
        [0, ln(max_logit_scale)]; a 0-d tensor without gradient, for
        logging (an optimizer step may have moved ``t`` out of range since
        the last loss)."""
        return self.logit_scale.detach().clamp(0.0, self.max_log_scale).exp()

    def embed_image(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, image_dims) -> (B, embed_dims), unit length, at least
        float32 (the similarities stay out of half precision)."""
        return F.normalize(_at_least_float32(self.image_proj(feats)), dim=-1)

    def embed_text(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, text_dims) -> (B, embed_dims), unit length, at least
        float32."""
        return F.normalize(_at_least_float32(self.text_proj(feats)), dim=-1)

    def loss(self, image_feats: torch.Tensor,
             text_feats: torch.Tensor) -> torch.Tensor:
        """Mean of the image->text and text->image cross-entropies.

        Clamps ``t`` in place first (see the class docstring).

        Args:
            image_feats: (B, image_dims) pooled image features; row i
                matches row i of ``text_feats``.
            text_feats: (B, text_dims) pooled text features.
        """
        self.clamp_logit_scale_()
        image = self.embed_image(image_feats)  # (B, E)
        text = self.embed_text(text_feats)  # (B, E)
        all_image = gather_with_grad(image)  # (W * B, E)
        all_text = gather_with_grad(text)  # (W * B, E)
        # This rank's pairs sit at rows rank * B ... rank * B + B - 1.
        labels = torch.arange(image.shape[0], device=image.device) + \
            rank() * image.shape[0]
        scale = self.logit_scale.exp()  # in range: clamped above
        logits_per_image = scale * image @ all_text.t()  # (B, W * B)
        logits_per_text = scale * text @ all_image.t()  # (B, W * B)
        return (F.cross_entropy(logits_per_image, labels) +
                F.cross_entropy(logits_per_text, labels)) / 2
