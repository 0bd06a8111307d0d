from .checkpoint import checkpoint_globals, safe_load
# Imported to register the remote schemes (http, s3 ...) with mmengine.
from . import remote_checkpoint  # noqa: F401
from .compile import apply_compile_fallback, compile_unavailable
from .errors import (BadDataError, CheckpointError, ConfigError,
                     DataFileError, DataRootNotFoundError, OutputPathError,
                     PathNotFoundError,
                     PixpretrainError, UnknownTypeError,
                     UnreadableImageError, bad_value, exception_chain,
                     find_user_error, user_error_message)
from .fileio import (LAST_CHECKPOINT, AtomicLocalBackend, atomic_write,
                     check_output_path, last_checkpoint, remove_partial_writes,
                     torch_save_atomic, write_last_checkpoint)
from .plugins import Plugin, PluginWarning, load_plugins, loaded_plugins
# Not re-exported: a function `progress` here would hide the module
# `pixpretrain.utils.progress`; import from that module.
from . import progress  # noqa: F401
from .state_dict import changed_entries
from .pretrained import (LoadedKeys, checkpoint_state_dict,
                         load_pretrained)

__all__ = [
    'safe_load',
    'checkpoint_globals',
    'PixpretrainError',
    'ConfigError',
    'UnknownTypeError',
    'DataRootNotFoundError',
    'CheckpointError',
    'UnreadableImageError',
    'BadDataError',
    'DataFileError',
    'PathNotFoundError',
    'OutputPathError',
    'bad_value',
    'exception_chain',
    'find_user_error',
    'user_error_message',
    'Plugin',
    'PluginWarning',
    'load_plugins',
    'loaded_plugins',
    'load_pretrained',
    'checkpoint_state_dict',
    'LoadedKeys',
    'apply_compile_fallback',
    'compile_unavailable',
    'atomic_write',
    'check_output_path',
    'torch_save_atomic',
    'remove_partial_writes',
    'write_last_checkpoint',
    'last_checkpoint',
    'AtomicLocalBackend',
    'LAST_CHECKPOINT',
    'changed_entries'
]
