"""An example pixpretrain plugin: a Huber-loss MAE head and a posterize
transform, registered into pixpretrain's registries on import.

pixpretrain imports this package through the ``pixpretrain.plugins`` entry
point in ``pyproject.toml``, so after ``pip install`` a config names
``HuberMAEHead`` and ``RandomPosterize`` without ``custom_imports``.
"""
from .heads import HuberMAEHead
from .transforms import RandomPosterize

__all__ = ['HuberMAEHead', 'RandomPosterize']
