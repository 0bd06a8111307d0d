from .reconstruction_hook import ReconstructionHook, mae_reconstruction_grid

__all__ = ['ReconstructionHook', 'mae_reconstruction_grid']
