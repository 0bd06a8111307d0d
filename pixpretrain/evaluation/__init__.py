"""Metrics and evaluators usable in a config's ``val_evaluator``, and the
plain functions behind them (``evaluation.functional``): a library. The
layer probe that uses them is an application,
:mod:`pixpretrain.applications.probe`."""
from .functional import knn_accuracy, knn_class_scores
from .metrics import (Accuracy, CaptionNamesClass, CaptionNLL, KNNAccuracy,
                      ZeroShotAccuracy,
                      build_zero_shot_classifier, zero_shot_accuracy)

__all__ = [
    'knn_accuracy',
    'knn_class_scores',
    'KNNAccuracy',
    'ZeroShotAccuracy',
    'build_zero_shot_classifier',
    'zero_shot_accuracy',
    'Accuracy',
    'CaptionNamesClass',
    'CaptionNLL'
]
