"""Metrics and evaluators usable in a config's ``val_evaluator``, and the
plain functions behind them (``evaluation.functional``)."""
from .functional import knn_accuracy, knn_class_scores
from .metrics import KNNAccuracy

__all__ = ['knn_accuracy', 'knn_class_scores', 'KNNAccuracy']
