"""Make pixpretrain's registries the default for builds outside a Runner."""
import warnings

from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every pixpretrain module and installed plugin, so the
    registries are filled.

    Args:
        init_default_scope: Make 'pixpretrain' the current default scope, so
            mmengine's root registries resolve names to ours.
    """
    import pixpretrain.datasets  # noqa: F401
    import pixpretrain.engine  # noqa: F401
    import pixpretrain.evaluation  # noqa: F401
    import pixpretrain.models  # noqa: F401
    from .plugins import load_plugins
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
