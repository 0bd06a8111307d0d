"""Transformer backbones' arch presets: a preset name (or alias) or a custom
dict resolved into widths, depths and heads, checked, and set on the
backbone (ViT, PixelGPT and the text transformer share these)."""
import difflib
import numbers
from typing import Dict, Optional, Tuple, Union

from torch import nn

from pixpretrain.utils.errors import bad_value
from ..utils import check_num_heads, check_positive_int

ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads', 'mlp_ratio')


def arch_presets(**rows: Tuple[int, int, int, float]) -> Dict[str, dict]:
    """Arch presets, one ``name=(embed_dims, num_layers, num_heads,
    mlp_ratio)`` each, as the dicts :func:`resolve_arch` reads.

    Args:
        **rows: The presets by name.
    """
    return {name: dict(zip(ARCH_KEYS, row)) for name, row in rows.items()}


def resolve_arch(arch: Union[str, dict],
                 archs: Dict[str, dict],
                 aliases: Optional[Dict[str, str]] = None,
                 key: str = 'backbone.arch') -> dict:
    """An arch preset by name (or alias), or a custom dict, checked.

    Args:
        arch: A preset name or a dict with the presets' keys
            (``embed_dims``, ``num_layers``, ``num_heads``, ``mlp_ratio``).
        archs: The presets.
        aliases: Other names of presets.
        key: Config key of ``arch``, for the messages.

    Returns:
        dict: The settings.

    Raises:
        ConfigError: Naming ``key`` and what is allowed, for an unknown
            name, a dict with keys missing, or values out of range (heads
            that do not divide the width, ...).
    """
    required = sorted(next(iter(archs.values())))
    if isinstance(arch, str):
        name = (aliases or {}).get(arch.lower(), arch.lower())
        if name not in archs:
            names = ', '.join(f"'{n}'" for n in sorted(archs))
            others = ', '.join(f"'{n}'" for n in sorted(aliases or {}))
            raise bad_value(
                key, arch,
                f'unknown arch (allowed: {names}'
                f"{f'; aliases {others}' if others else ''}; or a dict with "
                f"keys {', '.join(required)})")
        return dict(archs[name])
    if not isinstance(arch, dict):
        raise bad_value(key, arch, 'must be a preset name or a dict (allowed: '
                        f"{', '.join(sorted(archs))} or a dict with keys "
                        f"{', '.join(required)})")
    unknown = sorted(set(arch) - set(required))
    if unknown:  # a misspelt key would leave its preset value in place
        close = difflib.get_close_matches(unknown[0], required, n=1)
        hint = f'; did you mean {key}.{close[0]}?' if close else ''
        raise bad_value(f'{key}.{unknown[0]}', arch[unknown[0]],
                        f"is no arch key (allowed: {', '.join(required)}"
                        f'{hint})')
    missing = sorted(set(required) - set(arch))
    if missing:
        raise bad_value(key, arch, f"misses keys {', '.join(missing)} "
                        f"(allowed: a dict with keys {', '.join(required)})")
    for int_key in ('embed_dims', 'num_layers'):
        if int_key in arch:
            check_positive_int(f'{key}.{int_key}', arch[int_key])
    if 'num_heads' in arch:
        check_num_heads(arch['num_heads'], arch['embed_dims'],
                        f'{key}.num_heads', f'{key}.embed_dims')
    ratio = arch.get('mlp_ratio', 1.0)
    if not isinstance(ratio, numbers.Real) or not ratio > 0:
        raise bad_value(f'{key}.mlp_ratio', ratio,
                        'must be a positive width ratio (allowed: > 0, '
                        'usually 4.0)')
    return dict(arch)


def set_arch(backbone: nn.Module,
             arch: Union[str, dict],
             archs: Dict[str, dict],
             aliases: Optional[Dict[str, str]] = None) -> dict:
    """Resolve ``arch`` with :func:`resolve_arch` and set the backbone's
    ``embed_dims``, ``num_layers`` and ``num_heads`` from it: necks, heads
    and algorithms read those three from any transformer backbone.

    Args:
        backbone: The backbone being built.
        arch: A preset name or a dict with the presets' keys.
        archs: The presets.
        aliases: Other names of presets.

    Returns:
        dict: The settings (``mlp_ratio`` too).
    """
    settings = resolve_arch(arch, archs, aliases)
    backbone.embed_dims = settings['embed_dims']
    backbone.num_layers = settings['num_layers']
    backbone.num_heads = settings['num_heads']
    return settings
