"""Plugin discovery with real dist-info folders on sys.path (no pip)."""
import sys
import warnings

import pytest
from mmengine.registry import Registry

from pixpretrain.registry import registries as registry
from pixpretrain.utils import PluginWarning, load_plugins, plugins


def make_distribution(site, name, entry_points, modules=None):
    """An installed distribution as importlib.metadata reads it."""
    info = site / f'{name.replace("-", "_")}-1.0.dist-info'
    info.mkdir(parents=True)
    (info / 'METADATA').write_text(
        f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n')
    lines = [f'{k} = {v}' for k, v in entry_points.items()]
    (info / 'entry_points.txt').write_text(
        '[pixpretrain.plugins]\n' + '\n'.join(lines) + '\n')
    for module, source in (modules or {}).items():
        (site / f'{module}.py').write_text(source)


GOOD = '''
from pixpretrain.registry import MODELS
import torch

IMPORTS = globals().get('IMPORTS', 0) + 1

@MODELS.register_module(force=True)
class PluginTestIdentity(torch.nn.Identity):
    pass
'''

CALLABLE = '''
CALLS = []

def register():
    CALLS.append(1)
'''


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A fresh site folder on sys.path and a fresh plugin record."""
    monkeypatch.setattr(plugins, '_records', {})
    monkeypatch.delenv(plugins.DISABLE_VARIABLE, raising=False)
    folder = tmp_path / 'site'
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for module in ('plugin_test_good', 'plugin_test_callable'):
        sys.modules.pop(module, None)


def ours(records):
    return {p.name: p for p in records if p.distribution.startswith('pt-')}


def test_installed_plugin_is_imported_once(site):
    make_distribution(site, 'pt-good', {'good': 'plugin_test_good'},
                      {'plugin_test_good': GOOD})
    first = ours(load_plugins())
    assert first['good'].error is None
    assert first['good'].distribution == 'pt-good'
    assert registry.MODELS.get('PluginTestIdentity').__module__ == \
        'plugin_test_good'
    load_plugins()
    assert sys.modules['plugin_test_good'].IMPORTS == 1


def test_callable_entry_point_is_called_once(site):
    make_distribution(site, 'pt-callable',
                      {'hook': 'plugin_test_callable:register'},
                      {'plugin_test_callable': CALLABLE})
    load_plugins()
    load_plugins()
    assert sys.modules['plugin_test_callable'].CALLS == [1]


def test_broken_plugin_warns_with_its_name_and_error_once(site):
    make_distribution(site, 'pt-broken', {'broken': 'no_such_module_xyz'})
    make_distribution(site, 'pt-good', {'good': 'plugin_test_good'},
                      {'plugin_test_good': GOOD})
    with pytest.warns(PluginWarning) as caught:
        records = ours(load_plugins())
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "plugin 'broken' (no_such_module_xyz) from pt-broken 1.0" in \
        messages[0]
    assert 'ModuleNotFoundError' in messages[0]
    assert records['broken'].error.startswith('ModuleNotFoundError')
    # The broken one does not keep the others out.
    assert records['good'].error is None
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        load_plugins()


def test_plugin_raising_on_import_is_contained(site):
    make_distribution(site, 'pt-raises', {'raises': 'plugin_test_raises'},
                      {'plugin_test_raises': 'raise RuntimeError("boom")\n'})
    with pytest.warns(PluginWarning, match='RuntimeError: boom'):
        records = ours(load_plugins())
    assert records['raises'].error == 'RuntimeError: boom'
    sys.modules.pop('plugin_test_raises', None)


def test_registry_first_lookup_loads_plugins(site):
    make_distribution(site, 'pt-good', {'good': 'plugin_test_good'},
                      {'plugin_test_good': GOOD})
    fresh = registry._Registry('plugin probe', scope='pixpretrain_probe')
    assert 'plugin_test_good' not in sys.modules
    fresh.get('anything')
    assert 'plugin_test_good' in sys.modules


def test_environment_variable_turns_plugins_off(site, monkeypatch):
    make_distribution(site, 'pt-good', {'good': 'plugin_test_good'},
                      {'plugin_test_good': GOOD})
    monkeypatch.setenv(plugins.DISABLE_VARIABLE, '0')
    assert load_plugins() == []
    assert 'plugin_test_good' not in sys.modules


def test_every_registry_loads_plugins():
    ours = [value for value in vars(registry).values()
            if isinstance(value, Registry) and value.scope == 'pixpretrain']
    assert len(ours) == 19  # strategy (FSDP2) is the 19th
    for value in ours:
        assert isinstance(value, registry._Registry), value.name
