"""A captioner's ``val_evaluator`` metrics: whether generated captions name
the image's class (``ImageCaptioner.predict`` writes ``caption_tokens``),
and the held-out likelihood of reference captions."""
import logging
import math
import re
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from pixpretrain.datasets.prompt_captions import metric_class_names
from pixpretrain.datasets.tokenizers import EOT_ID, build_tokenizer
from pixpretrain.registry import METRICS
from pixpretrain.utils.errors import ConfigError


def names_class(caption: str, class_name: str,
                class_names: Sequence[str]) -> bool:
    """True when ``caption`` holds ``class_name`` as whole words and no
    other class name (a caption naming every class names none)."""

    def holds(name: str) -> bool:
        return re.search(rf'\b{re.escape(name)}\b', caption) is not None

    return holds(class_name) and not any(
        holds(other) for other in class_names if other != class_name)


def decode_caption(ids: Sequence[int], tokenizer) -> str:
    """Generated ids up to the first end-of-text token -> text."""
    ids = list(ids)
    return tokenizer.decode(ids[:ids.index(EOT_ID)] if EOT_ID in ids
                            else ids)


@METRICS.register_module()
class CaptionNamesClass(BaseMetric):
    """Share of generated captions that name the image's class and no other,
    in % (chance: 100 / number of classes for a caption naming one class).

    Reads ``caption_tokens`` and ``gt_label`` of each predicted sample;
    reported as ``caption/names_class``.

    Args:
        tokenizer: Config of the tokenizer the captions were trained with,
            or the tokenizer.
        class_names: Names as captions use them, in label order; default:
            the validation data set's classes, '_' read as spaces.
    """

    default_prefix = 'caption'

    def __init__(self, tokenizer: Union[dict, Callable],
                 class_names: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.tokenizer = build_tokenizer(tokenizer)
        self.class_names = list(class_names) if class_names else None

    def _class_names(self) -> List[str]:
        return metric_class_names(self.class_names, self.dataset_meta,
                                  'CaptionNamesClass')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            caption = decode_caption(sample['caption_tokens'].tolist(),
                                     self.tokenizer)
            label = sample.get('gt_label')
            self.results.append(
                (caption, -1 if label is None else int(label)))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        names = self._class_names()
        labelled = [(caption, label) for caption, label in results
                    if label >= 0]
        if len(labelled) < len(results):
            print_log(f'CaptionNamesClass: {len(results) - len(labelled)} '
                      f'of {len(results)} samples have no gt_label (e.g. '
                      "a shard's .cls that is no class index) and are left "
                      'out of caption/names_class', logger='current',
                      level=logging.WARNING)
        if not labelled:
            return dict(names_class=math.nan)
        hits = sum(names_class(caption, names[label], names)
                   for caption, label in labelled)
        return dict(names_class=100.0 * hits / len(labelled))


@METRICS.register_module()
class CaptionNLL(BaseMetric):
    """Held-out caption likelihood: the negative log-likelihood per token
    of the reference captions given their images (``caption/nll``, nats)
    and its exponential (``caption/perplexity``), over the whole set.

    Reads ``caption_nll`` and ``caption_scored`` of each predicted sample,
    which ``ImageCaptioner`` and ``CoCa`` write when the validation samples
    carry ``text_tokens``. Scored: every caption and end token (the start
    token is given), teacher-forced for ``CaptionHead`` and a CapPa
    ``MaskedCaptionHead`` (``ar_fraction`` > 0), read from the image alone
    in one parallel pass for a ``MaskedCaptionHead`` with ``mask_ratio=1``
    only, which is therefore higher.
    """

    default_prefix = 'caption'
    # Read by the train and test APIs' config check, before anything runs:
    # one fixed reference per image, so the figure is the same each time.
    required_transforms = {'TokenizeText': dict(caption_choice='first')}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'caption_nll' not in sample:
                raise ConfigError(
                    'CaptionNLL finds no caption_nll in the predictions: '
                    'validate on captioned data (PromptCaptions or '
                    'ImageCaptionManifest, TokenizeText in the pipeline) '
                    'with a head that scores captions (CaptionHead, or '
                    'MaskedCaptionHead with mask_ratio=1)')
            self.results.append((float(sample['caption_nll']),
                                 int(sample['caption_scored'])))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        total = sum(nll for nll, _ in results)
        count = sum(scored for _, scored in results)
        if count == 0:
            print_log('CaptionNLL: the validation captions hold no token to '
                      'score (every one empty); nll and perplexity are nan',
                      logger='current', level=logging.WARNING)
            return dict(nll=math.nan, perplexity=math.nan)
        nll = total / count
        # exp overflows a float above ~709.8 nats (a diverged model)
        perplexity = math.exp(nll) if not nll > 700 else math.inf
        return dict(nll=nll, perplexity=perplexity)
