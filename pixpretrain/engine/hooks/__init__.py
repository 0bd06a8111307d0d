from .reconstruction_hook import (ReconstructionHook, mae_reconstruction_grid,
                                  model_pictures)
from .zero_shot_hook import ZeroShotHook

__all__ = [
    'ReconstructionHook', 'mae_reconstruction_grid', 'model_pictures',
    'ZeroShotHook'
]
