import pytest
import torch

from pixpretrain.evaluation import Accuracy
from pixpretrain.utils import ConfigError


def test_top1_and_top2_on_a_hand_example():
    metric = Accuracy(topk=(1, 2))
    scores = torch.tensor([[0.6, 0.3, 0.1],    # label 0: top-1 hit
                           [0.5, 0.4, 0.1],    # label 1: top-2 hit only
                           [0.5, 0.4, 0.1],    # label 2: miss
                           [0.1, 0.2, 0.7]])   # label 2: top-1 hit
    metric.process(None, [dict(pred_score=s, gt_label=torch.tensor(y))
                          for s, y in zip(scores, [0, 1, 2, 2])])
    assert metric.compute_metrics(metric.results) == {'top1': 50.0,
                                                      'top2': 75.0}


def test_topk_beyond_the_classes_fails():
    metric = Accuracy(topk=5)
    metric.process(None, [dict(pred_score=torch.ones(3),
                               gt_label=torch.tensor(0))])
    with pytest.raises(ConfigError, match='exceeds'):
        metric.compute_metrics(metric.results)
