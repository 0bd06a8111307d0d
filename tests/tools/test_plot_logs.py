import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
plot_logs = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/plot_logs.py')))


def write_log(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(json.dumps(r) for r in records) + '\n')


def test_a_resumed_run_plots_as_one_curve(tmp_path):
    first = [dict(iter=i, lr=0.1 * i, loss=1.0 / i, loss_aux=2.0 / i)
             for i in (1, 2, 3, 4)]
    # The second launch resumed at iteration 3 and logged it again.
    second = [dict(iter=i, lr=0.2 * i, loss=0.5 / i, loss_aux=1.0 / i)
              for i in (3, 4, 5)] + [dict(step=1, accuracy=50.0)]
    write_log(tmp_path / '20250101_000000/vis_data/scalars.json', first)
    write_log(tmp_path / '20250101_010000/vis_data/scalars.json', second)
    records = plot_logs.load_training_records(plot_logs.find_logs(
        str(tmp_path)))
    assert [r['iter'] for r in records] == [1, 2, 3, 4, 5]
    assert records[2]['loss'] == 0.5 / 3  # the later launch wins
    figure = plot_logs.plot_curves(records)
    upper, lower = figure.axes
    assert [line.get_label() for line in upper.lines] == ['loss', 'loss_aux']
    np.testing.assert_allclose(upper.lines[0].get_xydata(),
                               [[r['iter'], r['loss']] for r in records])
    np.testing.assert_allclose(lower.lines[0].get_ydata(),
                               [r['lr'] for r in records])


def test_tool_writes_a_png(tmp_path, capsys):
    write_log(tmp_path / 'run/vis_data/scalars.json',
              [dict(iter=i, lr=1e-3, loss=3 - i / 10) for i in range(1, 21)])
    out = tmp_path / 'curves.png'
    assert plot_logs.main([str(tmp_path / 'run/vis_data/scalars.json'),
                           '--out', str(out), '--title', 'test']) == 0
    image = np.asarray(Image.open(out).convert('L'))
    assert image.shape == (660, 840)
    assert (image < 128).mean() > 0.01  # axes and curves were drawn
    assert '20 records from 1 log(s)' in capsys.readouterr().out


def test_missing_log_is_one_line(tmp_path, capsys):
    assert plot_logs.main([str(tmp_path)]) == 1
    assert "no '*/vis_data/scalars.json'" in capsys.readouterr().err
