"""Top-k classification accuracy for a config's ``val_evaluator``."""
from typing import Dict, List, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric

from pixpretrain.registry import METRICS
from pixpretrain.utils.errors import ConfigError
from ..functional import check_topk


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Share of images whose label is among the k highest scores, in %.

    Reads ``pred_score`` (C,) and ``gt_label`` from each predicted sample
    (:meth:`ImageClassifier.predict`). Reported as ``accuracy/top1``, ...

    Args:
        topk: One k or several.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: Union[int, Sequence[int]] = (1, ),
                 collect_device: str = 'cpu', prefix: str = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = check_topk(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((sample['pred_score'].cpu().float(),
                                 int(sample['gt_label'])))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = torch.stack([score for score, _ in results])   # (N, C)
        labels = torch.tensor([label for _, label in results])  # (N,)
        if max(self.topk) > scores.shape[1]:
            raise ConfigError(f'topk={self.topk} exceeds the '
                              f'{scores.shape[1]} classes')
        ranked = scores.topk(max(self.topk), dim=1).indices     # (N, k)
        hits = ranked == labels[:, None]
        return {f'top{k}': 100.0 * hits[:, :k].any(1).float().mean().item()
                for k in self.topk}
