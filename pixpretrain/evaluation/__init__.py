"""Metrics and evaluators usable in a config's ``val_evaluator``, the plain
functions behind them (``evaluation.functional``), and the layer probe
(``evaluation.probe``)."""
from .functional import knn_accuracy, knn_class_scores
from .metrics import (Accuracy, KNNAccuracy, ZeroShotAccuracy,
                      build_zero_shot_classifier, zero_shot_accuracy)

__all__ = [
    'knn_accuracy',
    'knn_class_scores',
    'KNNAccuracy',
    'ZeroShotAccuracy',
    'build_zero_shot_classifier',
    'zero_shot_accuracy',
    'Accuracy'
]
