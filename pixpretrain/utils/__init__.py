from .checkpoint import checkpoint_globals, safe_load
from .compile import apply_compile_fallback, compile_unavailable
from .errors import (CheckpointError, ConfigError, DataRootNotFoundError,
                     explain,
                     PixpretrainError, UnknownTypeError, find_user_error,
                     unknown_type_message)
from .setup_env import register_all_modules

__all__ = [
    'safe_load', 'checkpoint_globals', 'PixpretrainError', 'ConfigError',
    'UnknownTypeError', 'DataRootNotFoundError', 'CheckpointError',
    'explain', 'find_user_error', 'unknown_type_message', 'register_all_modules',
    'apply_compile_fallback', 'compile_unavailable'
]
