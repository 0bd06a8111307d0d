from .knn import knn_accuracy, knn_class_scores

__all__ = ['knn_accuracy', 'knn_class_scores']
