"""tools/analysis/probe.py end to end on generated data (seconds, CPU)."""
import json
import sys
from pathlib import Path

import torch

from pixpretrain.apis import init_model

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
import probe as probe_tool  # noqa: E402


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
