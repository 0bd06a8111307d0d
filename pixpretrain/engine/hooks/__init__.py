from .checkpoint_hook import AtomicCheckpointHook
from .frozen_check_hook import FrozenBackboneCheckHook, changed_entries
from .nonfinite_loss_hook import NonFiniteLossHook
from .progress_bar_hook import ProgressBarHook
from .reconstruction_hook import ReconstructionHook, model_pictures
from .time_budget_hook import TimeBudgetHook
from .zero_shot_hook import ZeroShotHook

__all__ = [
    'ReconstructionHook',
    'NonFiniteLossHook',
    'model_pictures',
    'ZeroShotHook',
    'FrozenBackboneCheckHook',
    'changed_entries',
    'TimeBudgetHook',
    'AtomicCheckpointHook',
    'ProgressBarHook'
]
