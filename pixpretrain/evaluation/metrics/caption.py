"""Whether generated captions name the image's class, for a captioner's
``val_evaluator`` (``ImageCaptioner.predict`` writes ``caption_tokens``)."""
import re
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric

from pixpretrain.datasets.prompt_captions import metric_class_names
from pixpretrain.datasets.tokenizers import EOT_ID, build_tokenizer
from pixpretrain.registry import METRICS


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
            self.results.append((caption, int(sample['gt_label'])))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        names = self._class_names()
        hits = sum(names_class(caption, names[label], names)
                   for caption, label in results)
        return dict(names_class=100.0 * hits / len(results))
