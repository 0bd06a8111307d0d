"""Optional dependencies (timm, webdataset, open_clip): imported when a part
that needs one is built, with one line naming the extra that installs it."""
import importlib
from types import ModuleType

from .errors import PixpretrainError


class MissingDependencyError(PixpretrainError, ImportError):
    """An optional library a config asks for is not installed."""


def require(module: str, extra: str, needed_by: str) -> ModuleType:
    """Import ``module`` or explain which extra installs it.

    Args:
        module: Import name, e.g. ``'timm'``.
        extra: pixpretrain's extra that installs it, e.g. ``'timm'``.
        needed_by: What asked for it, e.g. ``'TimmBackbone'``.

    Raises:
        MissingDependencyError: ``"TimmBackbone needs timm, which is not
            installed: pip install 'pixpretrain[timm]'"``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.split('.')[0]:
            raise  # the library is there but one of its own imports fails
        raise MissingDependencyError(
            f'{needed_by} needs {module}, which is not installed: '
            f"pip install 'pixpretrain[{extra}]' (or pip install -e "
            f"\".[{extra}]\" in a checkout)") from None
