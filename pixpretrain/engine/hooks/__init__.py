from .frozen_check_hook import FrozenBackboneCheckHook, changed_entries
from .reconstruction_hook import ReconstructionHook, mae_reconstruction_grid

__all__ = [
    'ReconstructionHook', 'mae_reconstruction_grid',
    'FrozenBackboneCheckHook', 'changed_entries'
]
