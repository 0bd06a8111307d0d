"""The keyword arguments a class takes, read from its constructors'
signatures (followed through ``**kwargs`` into the parents they reach)."""
import inspect
from typing import List, Optional, Set

# Other packages' ``**kwargs`` that take no key: CheckpointHook passes them
# to Runner.save_checkpoint beside every parameter it has (a TypeError at
# the first save, after training).
_KWARGS_TAKE_NONE = {'mmengine.hooks.checkpoint_hook.CheckpointHook'}


def _named_params(cls: type) -> Optional[List[inspect.Parameter]]:
    """``cls(...)``'s keyword-passable parameters; None for ``*args``,
    ``**kwargs`` or an unreadable signature."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params):
        return None
    return [p for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def init_params(cls: type) -> Optional[Set[str]]:
    """The keyword arguments ``cls(...)`` takes; None for ``**kwargs`` or an
    unreadable signature."""
    params = _named_params(cls)
    return None if params is None else {p.name for p in params}


def required_params(cls: type) -> List[str]:
    """The arguments ``cls(...)`` cannot do without (no default); none
    known for ``**kwargs`` or an unreadable signature."""
    return [p.name for p in _named_params(cls) or () if p.default is p.empty]


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
