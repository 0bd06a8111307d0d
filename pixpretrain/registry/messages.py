"""Messages about a registry's names: what it holds, what is closest to a
name it does not hold."""
import difflib
from typing import Iterator, List

from mmengine.registry import Registry


def _registry_chain(registry: Registry) -> Iterator[Registry]:
    """The registry, its ancestors, and their children (mmengine's lookup)."""
    seen = set()
    root = registry
    while root.parent is not None:
        root = root.parent
    stack = [root]
    while stack:
        reg = stack.pop()
        if id(reg) in seen:
            continue
        seen.add(id(reg))
        yield reg
        stack.extend(reg.children.values())


def registered_names(registry: Registry) -> List[str]:
    """Every name reachable from ``registry``, imports of locations done.

    Args:
        registry: Any registry; its root and the root's children are read.
    """
    registry.import_from_location()
    names = set()
    for reg in _registry_chain(registry):
        names.update(reg.module_dict)
    return sorted(names)


def unknown_type_message(registry: Registry, name: str,
                         limit: int = 5) -> str:
    """One line: what was asked for, where, and the nearest names.

    Args:
        registry: The registry the name was looked up in.
        name: The unknown ``type``.
        limit: At most this many close names are listed.
    """
    names = registered_names(registry)
    short = name.split('.')[-1]
    close: List[str] = difflib.get_close_matches(short, names, n=limit,
                                                 cutoff=0.6)
    if not close:
        lowered = short.lower()
        close = [n for n in names if lowered in n.lower()][:limit]
    hint = (f'closest registered names: {", ".join(close)}'
            if close else f'registered names include: {", ".join(names[:8])}')
    return (f"unknown type '{name}' in registry "
            f"'{registry.scope}::{registry.name}'; {hint}. A module from "
            "another package must be imported first, e.g. "
            "custom_imports = dict(imports=['my_package'])")
