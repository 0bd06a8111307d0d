from .frozen_check_hook import FrozenBackboneCheckHook, changed_entries
from .reconstruction_hook import ReconstructionHook, mae_reconstruction_grid
from .time_budget_hook import TimeBudgetHook

__all__ = [
    'ReconstructionHook', 'mae_reconstruction_grid',
    'FrozenBackboneCheckHook', 'changed_entries', 'TimeBudgetHook'
]
