"""The keyword arguments a class takes, read from its constructors'
signatures (followed through ``**kwargs`` into the parents they reach)."""
import inspect
from typing import Optional, Set

# Other packages' ``**kwargs`` that take no key: CheckpointHook passes them
# to Runner.save_checkpoint beside every parameter it has (a TypeError at
# the first save, after training).
_KWARGS_TAKE_NONE = {'mmengine.hooks.checkpoint_hook.CheckpointHook'}


def init_params(cls: type) -> Optional[Set[str]]:
    """The keyword arguments ``cls(...)`` takes; None for ``**kwargs`` or an
    unreadable signature."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    params = signature.parameters.values()
    if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params):
        return None
    return {p.name for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def inherited_init_params(cls: type, trusted: Optional[str] = None
                          ) -> Optional[Set[str]]:
    """Like :func:`init_params`, but a constructor's ``**kwargs`` is taken
    to be what its parent classes' constructors accept, followed up the MRO
    until one takes no ``**kwargs`` (then the set is complete).

    Args:
        cls: The class.
        trusted: Follow only the ``**kwargs`` of classes whose module starts
            with this (``'pixpretrain.'``: ours pass them to their parent;
            another package's may pass them anywhere, as mmengine's
            ``ZeroRedundancyOptimizer`` does to its inner optimizer).
            ``None`` follows every class's.

    Returns:
        The accepted names; None where the chain never closes, meets an
        untrusted ``**kwargs`` or an unreadable signature, and for a class
        whose ``passes_kwargs_to`` names where its ``**kwargs`` go instead
        (``TimmBackbone``: ``timm.create_model``).
    """
    if getattr(cls, 'passes_kwargs_to', None):
        return None
    accepted: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        accepted |= {p.name for p in params if p.name != 'self' and p.kind
                     in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params) or \
                f'{klass.__module__}.{klass.__name__}' in _KWARGS_TAKE_NONE:
            return accepted
        if trusted and not klass.__module__.startswith(trusted):
            return None
    return None
