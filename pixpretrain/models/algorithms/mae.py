"""MAE (He et al., "Masked Autoencoders Are Scalable Vision Learners")."""
import numbers
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import bad_value
from ..utils import patchify, random_masking, unpatchify
from ..utils.pictures import Pictures, tile
from .base import BasePretrainer


@MODELS.register_module()
class MAE(BasePretrainer):
    """Encode the visible patches, decode all, regress the removed pixels.

    Args:
        mask_ratio: Fraction of patches removed per image, in (0, 1).
        **kwargs: backbone / neck / head / data_preprocessor, see
            :class:`BasePretrainer`.
    """

    # Checked before anything is built (apis/config_checks/values.py).
    required_parts = ('neck', )

    def __init__(self, *args, mask_ratio: float = 0.75, **kwargs) -> None:
        if not (isinstance(mask_ratio, numbers.Real)
                and 0.0 < mask_ratio < 1.0):
            raise bad_value('mask_ratio', mask_ratio,
                            'must be the fraction of patches removed '
                            '(allowed: 0 < mask_ratio < 1)')
        super().__init__(*args, **kwargs)
        self.mask_ratio = mask_ratio
        self._check_parts_agree()

    def _check_parts_agree(self) -> None:
        """Fail at build time, naming the key, when the parts disagree."""
        enc, dec = self.backbone, self.neck
        checks = [
            ('neck.encoder_dims', dec.decoder_embed.in_features,
             'backbone width', enc.embed_dims),
            ('neck.num_patches', dec.num_patches, 'backbone patches',
             enc.num_patches),
            ('neck.patch_size ** 2 * neck.in_channels',
             dec.decoder_pred.out_features, 'pixels per backbone patch',
             enc.patch_size**2 * enc.in_channels),
            ('head.patch_size', self.head.patch_size, 'backbone.patch_size',
             enc.patch_size),
        ]
        for key, value, what, expected in checks:
            if value != expected:
                raise bad_value(key, value, f'must equal the {what} '
                                f'(allowed: {expected})')
        # random_masking keeps round(L * (1 - mask_ratio)) patches: with
        # none kept the encoder sees nothing, with none removed the loss
        # divides by zero.
        patches = enc.num_patches
        kept = int(round(patches * (1 - self.mask_ratio)))
        if not 1 <= kept <= patches - 1:
            raise bad_value(
                'mask_ratio', self.mask_ratio,
                f'must remove at least one of the backbone\'s {patches} '
                f'patches and keep at least one (allowed: '
                f'{0.5 / patches:.4g} < mask_ratio < {1 - 0.5 / patches:.4g})')

    def reconstruct(
        self, images: torch.Tensor, noise: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> predicted patches (B, L, p*p*C), mask (B, L)."""
        tokens = self.backbone.embed(images)  # (B, L, D)
        visible, mask, ids_restore = random_masking(tokens, self.mask_ratio,
                                                    noise)
        latent = self.backbone.encode(visible)  # (B, 1 + L_keep, D)
        return self.neck(latent, ids_restore), mask

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        pred, mask = self.reconstruct(inputs)
        return dict(loss=self.head.loss(pred, inputs, mask))

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``pred_patches`` (L, p*p*C) in the head's target space
        and ``mask`` (L,), for pictures and reconstruction metrics."""
        pred, mask = self.reconstruct(inputs)
        samples = data_samples or [BaseDataElement() for _ in range(len(pred))]
        for sample, p, m in zip(samples, pred, mask):
            sample.pred_patches = p
            sample.mask = m
        return samples

    def pictures(self, images: torch.Tensor) -> Pictures:
        """``{'reconstructions': ...}``, see :func:`mae_reconstruction_grid`
        (what ``ReconstructionHook`` saves)."""
        return {'reconstructions': mae_reconstruction_grid(self, images)}


@torch.no_grad()
def mae_reconstruction_grid(model: MAE, images: torch.Tensor,
                            seed: int = 0) -> np.ndarray:
    """Rows of original | masked | reconstruction | reconstruction + visible.

    Args:
        model: An MAE-style model with ``reconstruct``, ``backbone`` (patch
            size, grid), ``head`` (``norm_pix``, ``eps``) and a
            ``data_preprocessor`` that can ``denormalize``.
        images: (B, C, H, W) uint8 images.
        seed: Seed of the masking noise, so pictures of successive
            checkpoints mask the same patches.

    Returns:
        (B * H, 4 * W, C) uint8 picture.
    """
    preprocessor = model.data_preprocessor
    device = next(model.parameters()).device
    inputs = preprocessor.normalize(images.to(device))
    p, grid = model.backbone.patch_size, model.backbone.grid
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(images.shape[0], grid[0] * grid[1],
                       generator=generator).to(device)
    was_training = model.training
    model.eval()
    pred, mask = model.reconstruct(inputs, noise=noise)
    model.train(was_training)

    # Undo the head's per-patch normalisation with the true patch statistics.
    target_patches = patchify(inputs, p)
    if getattr(model.head, 'norm_pix', False):
        mean = target_patches.mean(-1, keepdim=True)
        std = (target_patches.var(-1, keepdim=True) + model.head.eps)**0.5
        pred = pred * std + mean
    mask_px = mask[..., None]  # (B, L, 1)
    masked = target_patches * (1 - mask_px)  # removed patches -> mean grey
    pasted = target_patches * (1 - mask_px) + pred * mask_px
    channels = images.shape[1]
    columns = [images.to(device)] + [
        preprocessor.denormalize(unpatchify(patches, p, grid, channels))
        for patches in (masked, pred, pasted)
    ]  # each (B, C, H, W) uint8
    hwc = [column.permute(0, 2, 3, 1).cpu().numpy() for column in columns]
    return tile([[column[i] for column in hwc]
                 for i in range(images.shape[0])])
