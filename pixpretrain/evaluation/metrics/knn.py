"""A kNN monitor for pretraining, as a metric of a config's
``val_evaluator``."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from pixpretrain.registry import METRICS
from pixpretrain.utils.errors import ConfigError
from ..functional import check_topk, knn_class_scores


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Weighted kNN accuracy of validation features against a feature bank
    of labelled training images (k = 200, T = 0.1 as the MoCo CIFAR demo).

    The model's predict mode must set ``feature_key`` (a (D,) tensor) on each
    data sample, and the samples need ``gt_label``. The bank comes from
    :class:`pixpretrain.engine.KNNValLoop`, which extracts it with the same
    model from its ``bank_dataloader`` at the start of every validation and
    hands it over with :meth:`set_bank`::

        val_cfg = dict(type='KNNValLoop', bank_dataloader=...)
        val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.1)

    Results are logged as ``{prefix}/top{k}`` in percent (prefix 'knn').

    Args:
        k: Neighbours per query.
        temperature: Votes weigh ``exp(cosine similarity / temperature)``.
        feature_key: Data-sample field holding the feature (MoCo sets
            ``feature``, the pooled backbone output, and ``projection``).
        topk: Accuracies to report, e.g. (1, 5).
        num_classes: Classes; by default the data set's ``classes``, else
            the largest label seen plus one.
        collect_device: Where results are gathered across ranks.
        prefix: Prefix of the logged names; two kNN metrics in one evaluator
            need different ones.
    """

    default_prefix = 'knn'

    def __init__(self,
                 k: int = 200,
                 temperature: float = 0.1,
                 feature_key: str = 'feature',
                 topk: Sequence[int] = (1, ),
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if k < 1:
            raise ConfigError(f'KNNAccuracy k must be >= 1, got {k}')
        if not temperature > 0:
            raise ConfigError(
                f'KNNAccuracy temperature must be > 0, got {temperature}')
        self.k = k
        self.temperature = temperature
        self.feature_key = feature_key
        self.topk = check_topk(topk)
        self.num_classes = num_classes
        self._bank: Optional[tuple] = None

    def set_bank(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """The labelled features queries are compared with.

        Args:
            features: (N, D) bank features.
            labels: (N,) their labels.
        """
        self._bank = (features, labels)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if self.feature_key not in sample:
                raise ConfigError(
                    f"KNNAccuracy reads '{self.feature_key}' from the model's "
                    f'predictions, which hold {sorted(sample)}: set its '
                    'feature_key to one of them')
            self.results.append((sample[self.feature_key].float().cpu(),
                                 sample['gt_label'].cpu()))

    def _num_classes(self, *labels: torch.Tensor) -> int:
        if self.num_classes is not None:
            return self.num_classes
        classes = (self.dataset_meta or {}).get('classes')
        if classes:
            return len(classes)
        return int(max(int(label.max()) for label in labels)) + 1

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        if self._bank is None:
            raise ConfigError(
                'KNNAccuracy has no feature bank: run it in a '
                "val_cfg=dict(type='KNNValLoop', bank_dataloader=...)")
        bank_features, bank_labels = self._bank
        queries = torch.stack([features for features, _ in results])
        labels = torch.stack([label for _, label in results]).view(-1)
        scores = knn_class_scores(bank_features, bank_labels, queries,
                                  self._num_classes(bank_labels, labels),
                                  self.k, self.temperature)  # (M, C)
        ranked = scores.argsort(dim=1, descending=True).cpu()
        hits = ranked == labels[:, None]
        return {
            f'top{t}': 100.0 * hits[:, :t].any(dim=1).float().mean().item()
            for t in self.topk
        }
