from .knn_val_loop import KNNTestLoop, KNNValLoop
from .resumable_loops import (ResumableEpochBasedTrainLoop,
                              ResumableIterBasedTrainLoop, batches_from,
                              resumable_sampler, seed_iteration)

__all__ = [
    'KNNTestLoop', 'KNNValLoop', 'ResumableEpochBasedTrainLoop',
    'ResumableIterBasedTrainLoop', 'seed_iteration', 'resumable_sampler',
    'batches_from'
]
