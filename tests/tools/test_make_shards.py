"""make_shards refuses broken sources: unreadable images (skipped within
--max-bad-fraction, refused above it, missing files before any shard is
written) and manifest rows it cannot read."""
import json
import runpy
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
main = runpy.run_path(
    str(REPO / 'tools/dataset_converters/make_shards.py'))['main']


def folder(root: Path, good: int = 10) -> Path:
    """``good`` JPEGs, a truncated one and an empty one, in one class."""
    images = root / 'src' / 'cat'
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(good):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), np.uint8)).save(
            images / f'{i}.jpg', quality=90)
    whole = (images / '0.jpg').read_bytes()
    (images / 'truncated.jpg').write_bytes(whole[:len(whole) // 2])
    (images / 'empty.jpg').write_bytes(b'')
    return root / 'src'


def test_unreadable_images_over_the_budget_write_nothing(tmp_path, capsys):
    out = tmp_path / 'out'
    assert main([str(out), '--image-folder', str(folder(tmp_path)),
                 '--no-captions']) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1
    assert 'empty.jpg' in err and '--max-bad-fraction' in err
    assert not out.exists()  # refused before writing


def test_unreadable_images_within_the_budget_are_skipped_by_name(
        tmp_path, capsys):
    out = tmp_path / 'out'
    assert main([str(out), '--image-folder', str(folder(tmp_path)),
                 '--no-captions', '--max-bad-fraction', '0.2']) == 0
    err = capsys.readouterr().err
    assert 'truncated.jpg' in err and 'empty.jpg' in err
    assert 'skipped 2 unreadable images of 12' in err
    index = json.loads((out / 'index.json').read_text())
    assert index['samples'] == 10


def test_a_truncated_jpeg_is_not_packed(tmp_path, capsys):
    source = folder(tmp_path)
    (source / 'cat' / 'empty.jpg').unlink()
    assert main([str(tmp_path / 'out'), '--image-folder', str(source),
                 '--no-captions', '--max-bad-fraction', '0']) == 1
    err = capsys.readouterr().err
    assert "truncated.jpg'" in err and err.count('\n') == 1


def test_a_manifest_naming_a_missing_image_writes_nothing(tmp_path, capsys):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / 'a.jpg')
    (tmp_path / 'm.jsonl').write_text('\n'.join(
        json.dumps(dict(image=name, caption='x'))
        for name in ('a.jpg', 'gone.jpg')))
    out = tmp_path / 'out'
    assert main([str(out), '--manifest', str(tmp_path / 'm.jsonl')]) == 1
    err = capsys.readouterr().err
    assert "gone.jpg' is missing or empty" in err
    assert not out.exists()


def test_a_csv_row_without_its_caption_is_one_line(tmp_path, capsys):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / 'a.jpg')
    (tmp_path / 'm.csv').write_text('image,caption\na.jpg,a cat\na.jpg\n')
    assert main([str(tmp_path / 'out'), '--manifest',
                 str(tmp_path / 'm.csv')]) == 1
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path / 'm.csv'}:3: no 'caption' value: the "
                   'row has fewer columns than the header\n')


def test_shards_of_an_earlier_run_are_not_mixed_with_new_ones(tmp_path,
                                                              capsys):
    out = tmp_path / 'out'
    argv = [str(out), '--image-folder', str(folder(tmp_path)),
            '--no-captions', '--max-bad-fraction', '0.2']
    assert main(argv + ['--shard-size', '4']) == 0  # 3 shards
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    # one larger shard would leave shard-000001/2 from the first run
    assert main(argv + ['--shard-size', '40']) == 1
    assert capsys.readouterr().err == (
        f"error: OUT_DIR '{out}' holds 3 shard(s) of an earlier run "
        '(shard-000000.tar ...): write into an empty folder, or delete '
        'them first\n')
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
