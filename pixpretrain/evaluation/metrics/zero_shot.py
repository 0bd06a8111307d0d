"""Zero-shot classification (CLIP): classes named in text, no training.

Each class becomes the mean of its prompts' text embeddings ("a photo of a
cat.", "a blurry photo of a cat.", ...), renormalised; an image is assigned
the class whose embedding is most similar to its own.
"""
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from pixpretrain.datasets.prompt_captions import (check_class_names,
                                                  check_templates,
                                                  fill_template,
                                                  metric_class_names)
from pixpretrain.datasets.tokenizers import build_tokenizer
from pixpretrain.registry import METRICS
from pixpretrain.utils.errors import ConfigError
from ..functional import check_topk


@torch.no_grad()
def build_zero_shot_classifier(embed_text: Callable[[torch.Tensor],
                                                    torch.Tensor],
                               tokenizer: Callable[[List[str]], torch.Tensor],
                               class_names: Sequence[str],
                               templates: Sequence[str],
                               device: Union[str, torch.device] = 'cpu'
                               ) -> torch.Tensor:
    """Class embeddings from prompts: (C, E), unit rows.

    Args:
        embed_text: (N, L) token ids -> (N, E) text embeddings, e.g. a CLIP
            model's ``embed_text`` (call it in eval mode).
        tokenizer: list of str -> (N, L) token ids, or its config.
        class_names: One name per class, in label order.
        templates: Prompts with a ``{}`` (or ``{class}``) field.
        device: Where the token ids go (the model's device).
    """
    if isinstance(embed_text, torch.nn.Module) and hasattr(
            embed_text, 'embed_text'):
        raise ConfigError(
            f'embed_text is the model {type(embed_text).__name__}: pass its '
            'method, build_zero_shot_classifier(model.embed_text, ...)')
    if not callable(embed_text):
        raise ConfigError(f'embed_text = {embed_text!r:.40} is not callable:'
                          ' pass a CLIP model\'s embed_text')
    tokenizer = build_tokenizer(tokenizer)
    class_names = check_class_names(class_names)
    templates = check_templates(templates)
    rows = []
    for name in class_names:
        tokens = tokenizer([fill_template(t, name) for t in templates])
        prompts = F.normalize(embed_text(tokens.to(device)).float(), dim=-1)
        rows.append(F.normalize(prompts.mean(dim=0), dim=-1))  # (E, )
    return torch.stack(rows)


def zero_shot_accuracy(image_embeddings: torch.Tensor, labels: torch.Tensor,
                       classifier: torch.Tensor,
                       topk: Sequence[int] = (1, )) -> Dict[str, float]:
    """Top-k accuracy (%) of nearest-class-embedding predictions.

    Args:
        image_embeddings: (N, E) image embeddings (normalised or not: the
            ranking of cosine similarities over classes does not change).
        labels: (N, ) true class indices.
        classifier: (C, E) from :func:`build_zero_shot_classifier`.
        topk: Which k to report.

    Returns:
        ``{'top1': ..., 'top5': ...}`` for the requested k.
    """
    topk = check_topk(topk)
    hits = topk_hits(image_embeddings, labels, classifier, topk)  # (N, K)
    return {f'top{k}': 100.0 * hits[:, i].float().mean().item()
            for i, k in enumerate(topk)}


def _check_shapes(image_embeddings: torch.Tensor, labels: torch.Tensor,
                  classifier: torch.Tensor) -> None:
    if image_embeddings.dim() != 2 or classifier.dim() != 2 or \
            labels.dim() != 1:
        raise ConfigError(
            'zero-shot accuracy needs (N, E) image embeddings, (N, ) labels '
            f'and a (C, E) classifier, got {tuple(image_embeddings.shape)}, '
            f'{tuple(labels.shape)} and {tuple(classifier.shape)}')
    if image_embeddings.shape[1] != classifier.shape[1]:
        raise ConfigError(
            f'image embeddings are {image_embeddings.shape[1]} wide but the '
            f'classifier is {classifier.shape[1]}: embed images and prompts '
            'with the same model')
    if len(labels) != len(image_embeddings):
        raise ConfigError(f'{len(labels)} labels for {len(image_embeddings)}'
                          ' image embeddings: give one label per image')
    if len(labels) == 0:
        raise ConfigError('zero-shot accuracy of no images: pass at least '
                          'one image embedding and its label')
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ConfigError(f'labels are {labels.dtype}: pass int class '
                          'indices')
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= len(classifier):
        raise ConfigError(
            f'label {low if low < 0 else high} is outside the '
            f'{len(classifier)} classes (0 to {len(classifier) - 1}): '
            'labels must index class_names')


def topk_hits(image_embeddings: torch.Tensor, labels: torch.Tensor,
              classifier: torch.Tensor,
              topk: Sequence[int]) -> torch.Tensor:
    """(N, K) bool: is the true class among the k most similar classes."""
    labels = torch.as_tensor(labels)
    _check_shapes(image_embeddings, labels, classifier)
    if max(topk) > classifier.shape[0]:
        raise ConfigError(f'topk={tuple(topk)} asks for more classes than '
                          f'the {classifier.shape[0]} there are')
    logits = image_embeddings.float() @ classifier.to(
        image_embeddings.device).t()  # (N, C)
    ranked = logits.topk(max(topk), dim=1).indices  # (N, max k)
    correct = ranked == labels.to(ranked.device).view(-1, 1)
    return torch.stack([correct[:, :k].any(dim=1) for k in topk], dim=1)


@METRICS.register_module()
class ZeroShotAccuracy(BaseMetric):
    """Zero-shot top-k accuracy of a CLIP model, for ``val_evaluator``.

    The classifier is rebuilt from the current weights before every
    validation by :class:`ZeroShotHook` (add it to ``custom_hooks``), which
    hands the model to :meth:`prepare`. The model's ``predict`` must put
    ``image_embedding`` on each data sample; the data set supplies
    ``gt_label`` and ``metainfo['classes']``.

    Args:
        templates: Prompts with a ``{}`` (or ``{class}``) field.
        tokenizer: Tokenizer config (as in the training pipeline's
            ``TokenizeText``) or tokenizer.
        class_names: Names for the prompts, in label order; defaults to the
            data set's classes with '_' read as spaces.
        topk: Which k to report.
        collect_device: 'cpu' or 'gpu', for gathering results across ranks.
        prefix: Prefix of the metric names; 'zero_shot' by default.
    """
    default_prefix = 'zero_shot'
    # Read by the train and test APIs' config check, before anything runs:
    # the hook embeds the prompts (prepare) before each evaluation.
    required_hooks = ('ZeroShotHook', )

    def __init__(self,
                 templates: Sequence[str],
                 tokenizer: Union[dict, Callable],
                 class_names: Optional[Sequence[str]] = None,
                 topk: Sequence[int] = (1, ),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.templates = check_templates(templates)
        self.tokenizer = build_tokenizer(tokenizer)
        self.class_names = None if class_names is None else \
            check_class_names(class_names)
        self.topk = check_topk(topk)
        self.classifier: Optional[torch.Tensor] = None

    def _class_names(self) -> List[str]:
        return metric_class_names(self.class_names, self.dataset_meta,
                                  'ZeroShotAccuracy')

    @torch.no_grad()
    def prepare(self, model: torch.nn.Module) -> None:
        """Embed the prompts with ``model.embed_text`` (eval mode)."""
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            self.classifier = build_zero_shot_classifier(
                model.embed_text, self.tokenizer, self._class_names(),
                self.templates, device)
        finally:
            model.train(was_training)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if self.classifier is None:
            raise ConfigError(
                'ZeroShotAccuracy has no classifier: add '
                "dict(type='ZeroShotHook') to custom_hooks, or call "
                'prepare(model) before evaluating')
        embeddings = torch.stack([s['image_embedding'] for s in data_samples])
        labels = torch.stack(
            [torch.as_tensor(s['gt_label']).view(()) for s in data_samples])
        hits = topk_hits(embeddings, labels, self.classifier, self.topk)
        self.results.extend(hits.cpu())

    def compute_metrics(self, results: list) -> Dict[str, float]:
        hits = torch.stack(results).float()  # (N, K)
        return {f'top{k}': 100.0 * hits[:, i].mean().item()
                for i, k in enumerate(self.topk)}
