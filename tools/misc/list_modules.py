"""List what each of pixpretrain's registries holds, installed plugins
included, and which package every module comes from.

    python tools/misc/list_modules.py                       # every registry
    python tools/misc/list_modules.py --registry model transform
    python tools/misc/list_modules.py --json                # for scripts
"""
import argparse
import functools
import json
import sys
from importlib import metadata
from typing import Dict, List, Optional

from mmengine.logging import MMLogger
from mmengine.registry import Registry

from pixpretrain.apis.cli import run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        '--registry', nargs='+', metavar='NAME',
        help="only these registries, e.g. 'model' 'transform'")
    parser.add_argument(
        '--inherited', action='store_true',
        help="also list what the parent (mmengine) registries hold, which "
        'configs can name too')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object')
    return parser.parse_args(argv)


def pixpretrain_registries() -> Dict[str, Registry]:
    """pixpretrain's registries by name ('model', 'transform', ...)."""
    from pixpretrain.registry.registries import our_registries
    return {registry.name: registry for registry in our_registries()}


@functools.lru_cache(maxsize=None)
def _packages_distributions() -> Dict[str, List[str]]:
    return metadata.packages_distributions()  # scans every installed package


def _distribution_of(module: str, plugin_dists: Dict[str, str]) -> str:
    top = module.split('.')[0]
    if top in plugin_dists:
        return plugin_dists[top]
    names = _packages_distributions().get(top)
    if not names:
        return top
    try:
        return f'{names[0]} {metadata.version(names[0])}'
    except metadata.PackageNotFoundError:
        return names[0]


def collect(registry_names: Optional[List[str]] = None,
            inherited: bool = False) -> dict:
    """Registries, their modules and where each comes from, and plugins.

    Returns:
        ``{'registries': {name: {'scope': str, 'modules': {module name:
        {'module': str, 'distribution': str}}}}, 'plugins': [...]}``
    """
    from pixpretrain.registry import register_all_modules
    from pixpretrain.utils.plugins import loaded_plugins
    register_all_modules(init_default_scope=False)
    plugins = loaded_plugins()
    plugin_dists = {
        p.module.split('.')[0]: f'{p.distribution} {p.version}'
        for p in plugins if p.error is None
    }
    registries = pixpretrain_registries()
    unknown = sorted(set(registry_names or []) - set(registries))
    if unknown:
        raise KeyError(f'no registry named {", ".join(unknown)}; choose '
                       f'from {", ".join(sorted(registries))}')
    result: dict = {'registries': {}, 'plugins': []}
    for name in sorted(registry_names or registries):
        registry = registries[name]
        registry.import_from_location()
        chain = [registry]
        while inherited and chain[-1].parent is not None:
            chain.append(chain[-1].parent)
        modules = {}
        for reg in reversed(chain):  # ours override the parents' names
            for key, obj in reg.module_dict.items():
                module = getattr(obj, '__module__', None) or '?'
                modules[key] = dict(
                    module=module,
                    distribution=_distribution_of(module, plugin_dists),
                    scope=reg.scope)
        result['registries'][name] = dict(
            scope=registry.scope, modules=dict(sorted(modules.items())))
    result['plugins'] = [
        dict(name=p.name, value=p.value, distribution=p.distribution,
             version=p.version, error=p.error) for p in plugins
    ]
    return result


def format_text(listing: dict) -> str:
    """The listing as text: one block per registry, then the plugins.

    Args:
        listing: What :func:`collect` returns.
    """
    lines = []
    for name, content in listing['registries'].items():
        modules = content['modules']
        lines.append(f"{content['scope']}::{name} ({len(modules)} modules)")
        width = max((len(k) for k in modules), default=0)
        mod_width = max((len(m['module']) for m in modules.values()),
                        default=0)
        for key, info in modules.items():
            lines.append(f"  {key:<{width}}  {info['module']:<{mod_width}}  "
                         f"{info['distribution']}")
        lines.append('')
    lines.append('plugins (entry point group pixpretrain.plugins)')
    if not listing['plugins']:
        lines.append('  none installed')
    for plugin in listing['plugins']:
        status = ('loaded' if plugin['error'] is None else
                  f"FAILED: {plugin['error']}")
        lines.append(f"  {plugin['name']} = {plugin['value']}  "
                     f"({plugin['distribution']} {plugin['version']})  "
                     f'{status}')
    return '\n'.join(lines)


def print_listing(args: argparse.Namespace) -> None:
    """Print the registries ``args`` name, as text or JSON."""
    # Warnings only: the listing is this tool's output.
    MMLogger.get_instance('list_modules', log_level='WARNING')
    listing = collect(args.registry, args.inherited)
    print(json.dumps(listing, indent=1) if args.json else format_text(listing))


def main(argv: Optional[List[str]] = None) -> int:
    """List the registries; the exit code (1 for an unknown registry)."""
    # collect() names an unknown registry with a KeyError.
    return run_cli(print_listing, parse_args(argv), expected=(KeyError, ))


if __name__ == '__main__':
    sys.exit(main())
