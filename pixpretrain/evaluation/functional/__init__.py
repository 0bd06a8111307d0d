from .knn import knn_accuracy, knn_class_scores
from .topk import check_topk

__all__ = ['knn_accuracy', 'knn_class_scores', 'check_topk']
