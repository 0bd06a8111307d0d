from .inference import extract_features, init_model
from .train import init_cpu_distributed, last_checkpoint, prepare_train_config

__all__ = [
    'init_model', 'extract_features', 'prepare_train_config',
    'init_cpu_distributed', 'last_checkpoint'
]
