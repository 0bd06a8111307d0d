"""tools/misc: print_config and list_modules."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
list_modules = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/misc/list_modules.py')))
print_config = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/misc/print_config.py')))

TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')


def test_print_config_resolves_bases_and_options(capsys):
    assert print_config.main([TINY, '--cfg-options', 'train_cfg.max_iters=3',
                              'model.mask_ratio=0.5']) == 0
    text = capsys.readouterr().out
    namespace = {}
    exec(text, namespace)  # the printed config is itself a valid config
    assert namespace['train_cfg']['max_iters'] == 3
    assert namespace['model']['mask_ratio'] == 0.5
    # From the bases: the demo's backbone type, overridden arch from tiny.
    assert namespace['model']['backbone']['type'] == 'VisionTransformer'
    assert namespace['model']['backbone']['arch']['embed_dims'] == 32
    assert '_base_' not in namespace


def test_print_config_missing_file_is_one_line(tmp_path, capsys):
    assert print_config.main([str(tmp_path / 'nope.py')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error:') and 'nope.py' in err


def test_list_modules_names_module_and_package(capsys):
    assert list_modules.main(['--registry', 'model', 'hook', '--json']) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing['registries']) == {'model', 'hook'}
    mae = listing['registries']['model']['modules']['MAE']
    assert mae['module'] == 'pixpretrain.models.algorithms.mae'
    assert mae['distribution'].startswith('pixpretrain')
    assert 'ReconstructionHook' in listing['registries']['hook']['modules']
    # Without --inherited, mmengine's own hooks are not listed as ours.
    assert 'LoggerHook' not in listing['registries']['hook']['modules']
    assert isinstance(listing['plugins'], list)


def test_list_modules_inherited_shows_mmengine_modules(capsys):
    assert list_modules.main(['--registry', 'optimizer', '--inherited']) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.strip().startswith('AdamW'))
    assert 'torch.optim' in line
    assert 'plugins (entry point group pixpretrain.plugins)' in text


def test_list_modules_unknown_registry(capsys):
    assert list_modules.main(['--registry', 'modle']) == 1
    assert "no registry named modle" in capsys.readouterr().err


def test_a_tool_piped_into_head_ends_quietly():
    """`tool | head`: the reader has gone before the tool writes; no
    traceback, exit 0."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        tool = subprocess.run(
            [sys.executable, str(repo / 'tools' / 'misc' / 'list_modules.py')],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert 'Traceback' not in tool.stderr, tool.stderr
    assert tool.returncode == 0
