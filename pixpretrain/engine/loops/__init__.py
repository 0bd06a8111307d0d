from .knn_val_loop import KNNValLoop

__all__ = ['KNNValLoop']
