"""Metrics and evaluators usable in a config's ``val_evaluator``."""
from .metrics import (ZeroShotAccuracy, build_zero_shot_classifier,
                      zero_shot_accuracy)

__all__ = [
    'ZeroShotAccuracy', 'build_zero_shot_classifier', 'zero_shot_accuracy'
]
