from .config_checks import (check_cfg_options, check_resume,
                            check_train_values, load_config)
from .inference import extract_features, init_model
from .train import init_cpu_distributed, last_checkpoint, prepare_train_config

__all__ = [
    'init_model', 'extract_features', 'prepare_train_config',
    'init_cpu_distributed', 'last_checkpoint', 'load_config',
    'check_cfg_options', 'check_train_values', 'check_resume'
]
