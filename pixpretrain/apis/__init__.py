# last_checkpoint lives in utils.fileio, where the engine's hooks reach it
# too; the tools find it here beside the train API.
from pixpretrain.utils.fileio import last_checkpoint
from .config_checks import (check_cfg_options, check_resume,
                            check_train_values, load_config)
from .inference import extract_features, init_model
from .threads import apply_threads, choose_threads
from .runner import build_runner, init_cpu_distributed
from .train import prepare_train_config

__all__ = [
    'init_model', 'extract_features', 'prepare_train_config',
    'init_cpu_distributed', 'last_checkpoint', 'load_config',
    'check_cfg_options', 'check_train_values', 'check_resume',
    'apply_threads', 'choose_threads', 'build_runner'
]
