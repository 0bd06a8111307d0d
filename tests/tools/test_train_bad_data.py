"""tools/train.py on an image folder with broken files, read by two
DataLoader workers: the run survives and names them, or stops in one line
when they are too many."""
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'tests' / 'fixtures' / 'tiny_mae_image_folder.py')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


@pytest.fixture
def folder(tmp_path):
    """40 readable images of every awkward kind, and 3 unreadable files."""
    root = tmp_path / 'images'
    root.mkdir()
    rng = np.random.default_rng(0)
    modes = ['RGB', 'L', 'RGBA', 'P', 'CMYK']
    for i in range(40):
        # Some far smaller than the 32-pixel crop.
        h, w = (int(v) for v in rng.integers(3, 64, 2))
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8))
        mode = modes[i % len(modes)]
        suffix = 'jpg' if mode in ('L', 'CMYK', 'RGB') else 'png'
        img.convert(mode).save(root / f'img_{i:02d}.{suffix}')
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(
        root / 'img_16bit.png')
    whole = (root / 'img_00.jpg').read_bytes()
    bad = {
        'empty.jpg': b'',
        'truncated.jpg': whole[:len(whole) // 2],
        'notes.jpg': b'a text file with an image suffix\n',
    }
    for name, data in bad.items():
        (root / name).write_bytes(data)
    return root, [str(root / name) for name in bad]


def _train(work_dir, data_root, *options):
    return train_tool.main([
        CONFIG, '--work-dir', str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}',
        f'experiment_name={Path(work_dir).name}', *options
    ])


def test_bad_files_are_skipped_and_named_in_the_log(tmp_path, folder):
    root, bad = folder
    work_dir = tmp_path / 'survives'
    assert _train(work_dir, root) == 0
    assert (work_dir / 'iter_8.pth').is_file()
    # 64 samples drawn from 44 files: every bad one was met (in a worker)
    # and its warning reached the run's log file.
    (log, ) = work_dir.glob('*/*.log')
    text = log.read_text()
    for path in bad:
        assert f"WARNING - skipping unreadable image '{path}'" in text
    assert 'images met so far were unreadable; the run stops above ' \
        'max_bad_fraction = 0.2' in text


@pytest.mark.parametrize('limit, start', [
    ('0.01', 'error: too many unreadable images: 1 of the '),
    ('0', "error: unreadable image '"),
])
@pytest.mark.parametrize('workers', [2, 0])
def test_too_many_bad_files_stop_with_one_line(tmp_path, folder, capsys,
                                               limit, start, workers):
    root, bad = folder
    code = _train(tmp_path / f'stops_{limit}_{workers}', root,
                  f'train_dataloader.dataset.max_bad_fraction={limit}',
                  f'train_dataloader.num_workers={workers}',
                  f'train_dataloader.persistent_workers={workers > 0}')
    assert code == 1
    err = capsys.readouterr().err
    # The worker's error arrives without the traceback torch wraps it in.
    assert 'DataLoader worker' not in err and 'BadDataError' not in err
    (line, ) = [line for line in err.splitlines() if line.startswith('error')]
    assert line.startswith(start)
    assert any(f"'{path}'" in line for path in bad)
    assert line.endswith('(see docs/data_preparation.md)')
