"""Make pixpretrain's registries the default for builds outside a Runner."""
import warnings
from importlib import import_module

from mmengine.registry import DefaultScope

from pixpretrain.utils.plugins import load_plugins
from .registries import our_registries


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every pixpretrain module and installed plugin, so the
    registries are filled.

    The packages imported are the registries' ``locations`` (datasets,
    engine, evaluation, models), imported by name as mmengine's lazy lookup
    does: the registry floor names the floors above it without importing
    them at module level.

    Args:
        init_default_scope: Make 'pixpretrain' the current default scope, so
            mmengine's root registries resolve names to ours.
    """
    locations = sorted({location for registry in our_registries()
                        for location in registry._locations})
    for location in locations:
        import_module(location)
    load_plugins()

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'pixpretrain':
        if current is not None:
            warnings.warn(f"default scope was '{current.scope_name}'; "
                          "switching to 'pixpretrain'")
        DefaultScope.get_instance(
            f'pixpretrain-{id(DefaultScope)}', scope_name='pixpretrain')
