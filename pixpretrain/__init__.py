"""pixpretrain: self-supervised visual pretraining on mmengine."""
# Importing utils installs the allow-listed checkpoint loader and the atomic
# local file backend (checkpoint writes) into mmengine.
from . import utils  # noqa: F401
from .version import __version__

__all__ = ['__version__']
