"""iGPT (Chen et al., "Generative Pretraining from Pixels", ICML 2020)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import BaseDataElement

from pixpretrain.datasets.transforms.color_quantize import load_palette
from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..heads import ARPixelHead, MaskedPixelHead, PixelClsHead
from ..heads.pixel_heads import shift_right
from ..utils.input_checks import check_palette_tokens
from ..utils.pictures import Pictures, completion_grid
from ..utils.sampling import complete
from .base import BasePretrainer, ModuleCfg

IGPT_HEADS = (ARPixelHead, MaskedPixelHead, PixelClsHead)


@MODELS.register_module()
class IGPT(BasePretrainer):
    """A :class:`PixelGPT` trained with next-pixel and/or masked-pixel
    prediction on palette tokens.

    ``head`` is an :class:`ARPixelHead`, a :class:`MaskedPixelHead`, a
    :class:`PixelClsHead`, or several of them in a dict / list. The two
    generative objectives need different inputs and attention (AR: the
    sequence shifted right by the start token, causal; BERT: the sequence
    with masked tokens hidden, bidirectional), and the BERT corruption must
    happen before the backbone, so each gets its own forward pass of the
    shared backbone; mmengine sums the losses. A classifier reads the AR
    pass when there is one (the paper's L_GEN + L_CLF fine-tuning), else
    one unmasked pass, and needs ``gt_label`` in the data samples.

    Logged per step: ``loss_ar`` (nats per token) and ``bits_per_dim`` for
    an AR head, ``loss_bert`` for a BERT head, ``loss_clf`` for a
    classifier. With a classifier, :meth:`predict` gives class scores.

    Args:
        backbone: A :class:`PixelGPT` config or module. Its ``causal`` flag
            decides the features of :meth:`extract_feat`.
        head: The heads (see above); at most one of each kind.
        data_preprocessor: Defaults to :class:`TokenDataPreprocessor`.
        palette: The ``.npy`` palette of the data, needed only to draw
            completions (:meth:`pictures`, used by ``ReconstructionHook``).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: ModuleCfg,
                 head: Union[ModuleCfg, Sequence[ModuleCfg],
                             Dict[str, ModuleCfg]],
                 data_preprocessor: Optional[ModuleCfg] = None,
                 palette: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.palette = palette
        if data_preprocessor is None:
            data_preprocessor = dict(type='TokenDataPreprocessor')
        super().__init__(backbone=backbone, head=head,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self._check_parts_agree()

    def _check_parts_agree(self) -> None:
        """Fail at build time, naming the key, when the parts disagree."""
        kinds = set()
        for name, head in self.named_heads():
            if not isinstance(head, IGPT_HEADS):
                raise ConfigError(
                    f'head {name!r} is a {type(head).__name__}; IGPT takes '
                    'ARPixelHead, MaskedPixelHead and PixelClsHead')
            if type(head) in kinds:
                raise ConfigError(
                    f'IGPT takes at most one {type(head).__name__}')
            kinds.add(type(head))
            for key in ('embed_dims', 'num_colors'):
                if not hasattr(head, key):
                    continue
                ours, theirs = getattr(head, key), getattr(self.backbone, key)
                if ours != theirs:
                    prefix = 'head' if name == 'head' else f'head.{name}'
                    raise bad_value(
                        f'{prefix}.{key}', ours,
                        f'must equal the backbone\'s {key} (allowed: '
                        f'{theirs})')
        if not kinds:
            raise ConfigError('IGPT needs a head: ARPixelHead, '
                              'MaskedPixelHead, PixelClsHead or several')

    def _head_of(self, kind: type) -> Optional[torch.nn.Module]:
        return next((h for _, h in self.named_heads() if isinstance(h, kind)),
                    None)

    @property
    def ar_head(self) -> Optional[ARPixelHead]:
        """The autoregressive head, if the model has one."""
        return self._head_of(ARPixelHead)

    @property
    def cls_head(self) -> Optional[PixelClsHead]:
        """The classifier, if the model has one."""
        return self._head_of(PixelClsHead)

    def _features(self, tokens: torch.Tensor, causal: bool) -> torch.Tensor:
        """(B, N) tokens -> (B, N, D) final features."""
        return self.backbone.encode(self.backbone.embed(tokens), causal)

    def _unmasked_input(self, tokens: torch.Tensor) -> torch.Tensor:
        """What the backbone reads outside training a generative head: the
        sequence shifted right by the start token for a causal backbone (as
        in AR training, so position t holds the features that predicted
        pixel t), the sequence itself for a bidirectional one."""
        if self.backbone.causal:
            return shift_right(tokens, self.backbone.start_token)
        return tokens

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        tokens = inputs.flatten(1)  # (B, H, W) -> (B, N), raster order
        losses = {}
        ar_features = None
        ar_head, bert_head = self.ar_head, self._head_of(MaskedPixelHead)
        if ar_head is not None:
            ar_features = self._features(ar_head.shift_right(tokens),
                                         ar_head.causal)
            loss = ar_head.loss(ar_features, tokens)
            losses['loss_ar'] = loss
            losses['bits_per_dim'] = ar_head.bits_per_dim(loss.detach())
        if bert_head is not None:
            corrupted, mask = bert_head.corrupt(tokens)
            features = self._features(corrupted, bert_head.causal)
            losses['loss_bert'] = bert_head.loss(features, tokens, mask)
        if self.cls_head is not None:
            if ar_features is None:
                ar_features = self._features(self._unmasked_input(tokens),
                                             self.backbone.causal)
            losses['loss_clf'] = self.cls_head.loss(
                ar_features, _labels(data_samples, tokens.device))
        return losses

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``pred_score`` (C,) probabilities and ``pred_label``
        from the classifier, on the features :meth:`loss` gives it."""
        if self.cls_head is None:
            raise ConfigError('IGPT predicts classes only with a '
                              'PixelClsHead among its heads')
        tokens = inputs.flatten(1)
        features = self._features(self._unmasked_input(tokens),
                                  self.backbone.causal)
        scores = self.cls_head.logits(features).float().softmax(-1)  # (B, C)
        samples = data_samples or [BaseDataElement() for _ in scores]
        for sample, score in zip(samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax()
        return samples

    def extract_feat(self, inputs: torch.Tensor,
                     layers: Optional[Sequence[int]] = None
                     ) -> Tuple[torch.Tensor, ...]:
        """Backbone features of token grids, for probes.

        With a causal backbone the sequence is shifted right by the start
        token first, as in training, so position t holds the features that
        predicted pixel t. Nothing is masked for a bidirectional backbone.

        Args:
            inputs: (B, H, W) tokens.
            layers: Block indices (negative from the end); the backbone's
                ``out_indices`` by default.

        Returns:
            One (B, N, D) tensor per requested layer.
        """
        check_palette_tokens(inputs, self.backbone.num_colors, 'extract_feat')
        tokens = self._unmasked_input(inputs.flatten(1))
        if layers is None:
            return tuple(self.backbone(tokens))
        return tuple(self.backbone.forward_intermediates(tokens, layers))

    @torch.no_grad()
    def pictures(self, inputs: torch.Tensor,
                 num_samples: int = 2) -> Pictures:
        """Completions of the bottom half of token grids, as a picture.

        Rows: original | kept top half | ``num_samples`` completions, drawn
        with torch's global RNG (``ReconstructionHook`` seeds it).

        Args:
            inputs: (B, H, W) tokens.
            num_samples: Completions per image.

        Returns:
            ``{'completions': (rows, cols, 3) uint8}``.
        """
        if self.palette is None:
            raise ConfigError(
                'drawing iGPT completions needs model.palette, the .npy '
                'palette of the data (the ColorQuantize palette)')
        B, H, W = inputs.shape
        kept = H // 2
        device = next(self.parameters()).device
        prefix = inputs.flatten(1)[:, :kept * W].repeat_interleave(
            num_samples, dim=0).to(device)
        completed = self.complete(prefix, H * W)
        samples = completed.view(B, num_samples, H, W).cpu().numpy()
        palette = load_palette(self.palette, self.backbone.num_colors)
        return {'completions': completion_grid(inputs.cpu().numpy(), samples,
                                               kept, palette)}

    @torch.no_grad()
    def complete(self, prefix: torch.Tensor, length: int,
                 temperature: float = 1.0, top_k: Optional[int] = None,
                 use_cache: bool = True,
                 generator: Optional[torch.Generator] = None,
                 progress: bool = False) -> torch.Tensor:
        """Sample the rest of each sequence from the AR head, with
        :func:`pixpretrain.models.utils.sampling.complete`.

        Args:
            prefix: (B, P) the tokens to continue (P may be 0).
            length: Length of the completed sequences, P <= length <= the
                backbone's sequence length.
            temperature, top_k, use_cache, generator, progress: See
                :func:`~pixpretrain.models.utils.sampling.complete`.

        Returns:
            (B, length) the prefix followed by the sampled tokens.
        """
        head = self.ar_head
        if head is None:
            raise ConfigError('completing images needs an ARPixelHead')
        check_palette_tokens(prefix, self.backbone.num_colors, 'complete')
        return complete(self.backbone, head.logits, prefix, length,
                        temperature, top_k, use_cache, generator, progress)


def _labels(data_samples: Optional[List], device: torch.device
            ) -> torch.Tensor:
    """(B,) class indices from the samples' ``gt_label``."""
    if not data_samples or data_samples[0].get('gt_label') is None:
        raise ConfigError(
            'a PixelClsHead needs labelled data: gt_label in every data '
            'sample (a labelled data set, packed by PackInputs)')
    return torch.stack([s.gt_label for s in data_samples]).view(-1).to(device)
