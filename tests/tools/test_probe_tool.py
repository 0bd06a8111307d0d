"""tools/analysis/probe.py end to end on generated data (seconds, CPU)."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pixpretrain.apis import init_model

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
probe_tool = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/probe.py')))


def args(tmp_path, *extra):
    return [TINY, *extra, '--data', 'shapes', '--train-samples', '40',
            '--test-samples', '20', '--epochs', '3', '--knn-k', '3,10',
            '--num-workers', '0', '--out', str(tmp_path / 'out'),
            '--cache-dir', str(tmp_path / 'cache'), '--device', 'cpu']


def test_writes_table_json_and_plot(tmp_path, capsys):
    checkpoint = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': init_model(TINY).state_dict()}, checkpoint)
    assert probe_tool.main(args(tmp_path, str(checkpoint))) == 0
    out = capsys.readouterr().out
    assert '| block | linear | kNN-3 | kNN-10 | linear (random-init) |' in out
    report = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert report['layers'] == [0, 1]
    assert set(report['models']) == {'trained', 'random-init'}
    png = (tmp_path / 'out' / 'accuracy_by_layer.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'


def test_wrong_keys_are_one_line_errors(tmp_path, capsys):
    state = init_model(TINY).state_dict()
    state['backbone.extra'] = torch.zeros(1)
    checkpoint = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': state}, checkpoint)
    assert probe_tool.main(args(tmp_path, str(checkpoint))) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'unexpected backbone.extra' in err
    assert probe_tool.main(args(tmp_path, str(tmp_path / 'none.pth'))) == 1
    assert 'does not exist' in capsys.readouterr().err


def test_zero_shot_of_a_clip_checkpoint_loads_the_whole_model(tmp_path,
                                                              capsys):
    clip = str(REPO / 'tests' / 'fixtures' / 'tiny_clip.py')
    torch.manual_seed(0)  # the probe's random init uses seed 0 too
    state = init_model(clip).state_dict()
    checkpoint = tmp_path / 'clip.pth'
    torch.save({'state_dict': state}, checkpoint)
    argv = args(tmp_path, str(checkpoint), '--zero-shot', '--method', 'knn')
    argv[0] = clip
    assert probe_tool.main(argv) == 0
    out = capsys.readouterr().out
    assert 'trained zero-shot on the test split: top1' in out
    report = json.loads((tmp_path / 'out' / 'results.json').read_text())
    trained = report['models']['trained']['zero_shot']
    # The checkpoint holds the seed-0 initialisation: the same numbers.
    assert trained == report['models']['random-init']['zero_shot']
    assert set(trained) == {'top1', 'top5'}
    # A text tower that does not fit is an error like the backbone's.
    state['text_backbone.extra'] = torch.zeros(1)
    torch.save({'state_dict': state}, checkpoint)
    assert probe_tool.main(argv) == 1
    assert 'unexpected text_backbone.extra' in capsys.readouterr().err


def test_missing_data_names_the_probes_own_fix(tmp_path, capsys):
    argv = args(tmp_path)
    argv[argv.index('shapes')] = 'cifar10'
    argv += ['--data-root', str(tmp_path / 'nowhere')]
    assert probe_tool.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ')
    assert str(tmp_path / 'nowhere') in err
    assert '--data-root DIR' in err and 'docs/data_preparation.md' in err
    assert 'download=True' not in err  # a data set flag, not a probe one


def test_help_lists_every_data_preset(capsys):
    from pixpretrain.applications.probe.data import PRESETS
    with pytest.raises(SystemExit):
        probe_tool.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    data_help = text.split('--data DATA ')[-1].split('--data-root')[0]
    for name in PRESETS:
        assert name in data_help
    assert 'shapes (generated in code, nothing to download)' in text


def test_no_baseline_without_a_checkpoint_is_refused(tmp_path, capsys):
    assert probe_tool.main(args(tmp_path, '--no-baseline')) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: --no-baseline') and \
        'give a checkpoint or drop --no-baseline' in err
    assert not (tmp_path / 'cache').exists()  # refused before extracting


def test_a_k_beyond_the_bank_is_labelled_with_the_k_used(tmp_path, capsys,
                                                         monkeypatch):
    # mmengine's logger may hold an earlier test's streams: read the warning
    # where it is written.
    from pixpretrain.applications.probe import knn
    warnings = []
    monkeypatch.setattr(knn, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    argv = args(tmp_path) + ['--knn-k', '3,1000', '--method', 'knn']
    assert probe_tool.main(argv) == 0
    captured = capsys.readouterr()
    assert '| block | kNN-3 (random-init) | kNN-40 (random-init) |' in \
        captured.out
    assert 'kNN-1000' not in captured.out
    assert any('reporting k = [3, 40]' in w for w in warnings), warnings
    report = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert report['knn']['ks'] == [3, 40]
