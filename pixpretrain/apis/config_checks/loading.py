"""Loading a config file: a missing file, a Python error in it or a
missing ``_base_`` turned into one line, ``--cfg-options`` checked and
merged."""
import difflib
import os
import os.path as osp
import sys
from typing import Any, Dict, Optional

from mmengine.config import Config

from pixpretrain.utils.errors import ConfigError, PathNotFoundError
from .keys import check_config_keys
from .options import check_cfg_options


def load_config(path: str, options: Optional[Dict[str, Any]] = None
                ) -> Config:
    """The config at ``path`` with ``--cfg-options`` merged, refusing a
    missing file and option keys that would be ignored or break a build.

    Args:
        path: The config file.
        options: ``--cfg-options`` as parsed by mmengine's ``DictAction``.

    Returns:
        Config: The merged config.

    Raises:
        PathNotFoundError: ``path`` does not exist (naming close file names).
        ConfigError: An option key exists nowhere and nothing would read it,
            naming the closest existing key; a key of a typed dict its class
            does not take (:func:`.keys.check_config_keys`).
    """
    if not osp.isfile(path):
        raise PathNotFoundError(
            f"config file '{path}' does not exist; "
            f'{_closest_file_hint(path)}')
    _import_from_working_dir()
    cfg = _read_config_file(path)
    if options:
        check_cfg_options(cfg, options)
        cfg.merge_from_dict(options)
    check_config_keys(cfg)
    return cfg


def _import_from_working_dir() -> None:
    """Let ``custom_imports`` find packages in the working directory.

    ``python tools/train.py`` puts ``tools/`` first on ``sys.path``, not the
    directory the user runs it from, so ``custom_imports=['my_package']``
    of a package beside the config failed unless ``PYTHONPATH=.`` was set;
    ``python -m`` and the interactive interpreter search it first. The
    tools search it last, so it never shadows an installed package.
    """
    cwd = os.getcwd()
    if cwd not in (osp.abspath(p or '.') for p in sys.path):
        sys.path.append(cwd)


def _read_config_file(path: str) -> Config:
    """``Config.fromfile``, its failures (Python errors in the file or a
    ``_base_`` file, a missing ``_base_``) turned into one line naming the
    file and the line."""
    try:
        return Config.fromfile(path)
    except SyntaxError as exc:
        # mmengine parses the text without naming the file ('<unknown>').
        named = exc.filename if exc.filename and osp.isfile(
            exc.filename) else path
        where = f"'{named}', line {exc.lineno}"
        raise ConfigError(f'config file {where}: {exc.msg}; fix the Python '
                          'syntax there') from None
    except FileNotFoundError as exc:
        missing = exc.filename or str(exc)
        raise PathNotFoundError(
            f"config file '{path}' names '{missing}' (in _base_ or "
            'read_base), which does not exist; fix the path, relative to '
            'the file that names it') from None
    except Exception as exc:  # noqa: BLE001 -- code in a config can raise
        first = str(exc).strip().splitlines()
        raise ConfigError(
            f"config file '{path}' could not be read: "
            f'{type(exc).__name__}: {first[0] if first else ""}; fix the '
            'file (variables and {{_base_.name}} references must exist)'
        ) from None


def _closest_file_hint(path: str) -> str:
    """'did you mean X?' from the file names beside ``path``, or a hint."""
    folder = osp.dirname(path) or '.'
    if not osp.isdir(folder):
        return f"its folder '{folder}' does not exist either; check the path"
    names = [n for n in os.listdir(folder) if n.endswith('.py')]
    close = difflib.get_close_matches(osp.basename(path), names, n=1,
                                      cutoff=0.6)
    if close:
        return f"did you mean '{osp.join(osp.dirname(path), close[0])}'?"
    return 'check the path'
