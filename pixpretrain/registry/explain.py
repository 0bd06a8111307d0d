"""One line for an error a user can fix, registry lookups included."""
import re
from typing import Optional

from pixpretrain.utils.errors import exception_chain, user_error_message
from .messages import unknown_type_message
from .registries import find_registry

_NOT_IN_REGISTRY = re.compile(
    r'(\S+) is not in the (\S+)::(\S+) registry')


def explain(exc: BaseException) -> Optional[str]:
    """A one-line explanation of an error a user can fix, else ``None``.

    Covers our own errors, wherever mmengine wrapped them or from whichever
    DataLoader worker torch re-raised them, and mmengine's
    "X is not in the scope::name registry" for builds that went through a
    root registry rather than ours (hence it sits beside the registries, not
    with the errors in ``pixpretrain.utils``).

    Args:
        exc: The exception a tool caught.
    """
    message = user_error_message(exc)
    if message is not None:
        return message
    for current in exception_chain(exc):
        match = _NOT_IN_REGISTRY.search(str(current))
        if match and isinstance(current, KeyError):
            name, _, registry_name = match.groups()
            registry = find_registry(registry_name)
            if registry is not None:
                return unknown_type_message(registry, name)
    return None
