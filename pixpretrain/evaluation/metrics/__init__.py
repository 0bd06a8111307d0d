from .caption import (CaptionNamesClass, CaptionNLL, decode_caption,
                      names_class)
from .accuracy import Accuracy
from .knn import KNNAccuracy
from .zero_shot import (ZeroShotAccuracy, build_zero_shot_classifier,
                        zero_shot_accuracy)

__all__ = [
    'CaptionNamesClass',
    'CaptionNLL',
    'decode_caption',
    'names_class',
    'KNNAccuracy',
    'ZeroShotAccuracy',
    'build_zero_shot_classifier',
    'zero_shot_accuracy',
    'Accuracy'
]
