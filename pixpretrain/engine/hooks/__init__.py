from .reconstruction_hook import (ReconstructionHook, mae_reconstruction_grid,
                                  model_pictures)

__all__ = ['ReconstructionHook', 'mae_reconstruction_grid', 'model_pictures']
