"""Every tool's output paths: a file path that is a folder, a folder path
that is a file, or a converter's DST that is its SRC is refused in one line
on stderr, before the work (a missing config given alongside proves it:
the output is refused first); missing parent folders are made.
"""
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
TINY_MOCO = str(FIXTURES / 'tiny_moco.py')
MISSING = str(FIXTURES / 'no_such_config.py')


def tool(path: str) -> SimpleNamespace:
    return SimpleNamespace(**runpy.run_path(str(REPO / 'tools' / path)))


def snapshot(folder: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def one_line(script: str, argv: List[str], capsys, tmp_path: Path) -> str:
    """Run a tool; check it refused in one stderr line, touching nothing
    under ``tmp_path``, and return that line."""
    before = snapshot(tmp_path)
    code = tool(script).main(argv)
    err = capsys.readouterr().err
    assert code == 1
    assert 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith('error: '), lines[0]
    assert snapshot(tmp_path) == before
    return lines[0]


@pytest.fixture
def places(tmp_path) -> SimpleNamespace:
    """An existing folder and an existing file, which must survive."""
    folder = tmp_path / 'folder'
    folder.mkdir()
    (folder / 'kept.txt').write_text('keep me')
    file = tmp_path / 'file.txt'
    file.write_text('keep me too')
    return SimpleNamespace(folder=str(folder), file=str(file))


def is_folder(flag: str, path: str) -> str:
    return f"error: {flag} '{path}' is a folder, not a file"


def is_file(flag: str, path: str) -> str:
    return f"error: {flag} '{path}' is a file, not a folder"


@pytest.mark.parametrize('script, flag', [
    ('test.py', '--out'),
    ('analysis/get_flops.py', '--json'),
    ('analysis/knn_eval.py', '--json'),
])
def test_a_json_file_that_is_a_folder_is_refused_first(
        script, flag, places, tmp_path, capsys):
    argv = [MISSING, flag, places.folder]
    if script == 'test.py':
        argv.insert(1, 'ckpt.pth')
    line = one_line(script, argv, capsys, tmp_path)
    assert line.startswith(is_folder(flag, places.folder))


def test_a_json_file_below_a_file_is_refused(places, tmp_path, capsys):
    path = f'{places.file}/m.json'
    line = one_line('analysis/igpt_sampling_speed.py', ['--json', path],
                    capsys, tmp_path)
    assert line == (f"error: --json '{path}': '{places.file}' is a file, "
                    'so no folder can be made there; choose another path')


@pytest.mark.parametrize('script', ['train.py', 'test.py',
                                    'analysis/knn_eval.py'])
def test_a_work_dir_that_is_a_file_is_refused(script, places, tmp_path,
                                              capsys):
    argv = [TINY_MOCO, '--work-dir', places.file]
    if script == 'test.py':
        (tmp_path / 'ckpt.pth').write_bytes(b'not read before the check')
        argv.insert(1, str(tmp_path / 'ckpt.pth'))
    line = one_line(script, argv, capsys, tmp_path)
    assert line == (is_file('--work-dir', places.file) + ': name a folder '
                    'to write into (or move the file away)')


def timm_vit_checkpoint(path: Path) -> None:
    """A tiny timm-layout ViT state dict (never read by the refusals)."""
    torch.save({'cls_token': torch.zeros(1, 1, 8)}, path)


def test_a_converter_refuses_to_write_over_its_source(tmp_path, capsys):
    src = tmp_path / 'a.pth'
    timm_vit_checkpoint(src)
    for dst in (src, tmp_path / '.' / 'a.pth'):
        line = one_line('model_converters/timm2pixpretrain_vit.py',
                        [str(src), str(dst)], capsys, tmp_path)
        assert line == (f"error: DST '{dst}' is the file being read "
                        f"('{src}'): write to another path, or the source "
                        'is overwritten')


def test_a_converter_refuses_a_folder_and_leaves_no_temporary(
        places, tmp_path, capsys):
    src = tmp_path / 'a.pth'
    timm_vit_checkpoint(src)
    line = one_line('model_converters/timm2pixpretrain_vit.py',
                    [str(src), places.folder], capsys, tmp_path)
    assert line.startswith(is_folder('DST', places.folder))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'a.pth', 'file.txt', 'folder']


@pytest.mark.parametrize('script, argv', [
    ('analysis/probe.py', [MISSING, '--out', '{file}']),
    ('analysis/probe.py', [MISSING, '--cache-dir', '{file}']),
    ('analysis/browse_dataset.py', [MISSING, '--output-dir', '{file}']),
    ('dataset_converters/make_shards.py',
     ['{file}', '--image-folder', MISSING]),
])
def test_an_output_folder_that_is_a_file_is_refused_first(
        script, argv, places, tmp_path, capsys):
    argv = [a.format(file=places.file) for a in argv]
    flag = argv[argv.index(places.file) - 1] if argv[0] != places.file \
        else 'OUT_DIR'
    line = one_line(script, argv, capsys, tmp_path)
    assert line.startswith(is_file(flag, places.file))


@pytest.mark.parametrize('script, argv', [
    ('analysis/caption.py', [MISSING, 'ckpt.pth', 'cat.png']),
    ('analysis/igpt_complete.py', [MISSING, 'ckpt.pth']),
    ('dataset_converters/fit_bpe.py', [str(FIXTURES / 'tiny_clip.py')]),
    ('dataset_converters/fit_palette.py', [str(FIXTURES / 'tiny_igpt.py')]),
])
def test_an_output_file_that_is_a_folder_is_refused_first(
        script, argv, places, tmp_path, capsys):
    line = one_line(script, argv + ['--out', places.folder], capsys,
                    tmp_path)
    assert line.startswith(is_folder('--out', places.folder))


def test_a_shard_prefix_with_a_folder_is_refused(tmp_path, capsys):
    line = one_line('dataset_converters/make_shards.py',
                    [str(tmp_path / 'shards'), '--image-folder', MISSING,
                     '--prefix', 'a/b'], capsys, tmp_path)
    assert line == ("error: --prefix 'a/b' holds a folder: give a file "
                    'name prefix, and put folders in OUT_DIR')
    assert not (tmp_path / 'shards').exists()


def test_plot_logs_refuses_a_folder_and_names_the_file_it_writes(
        places, tmp_path, capsys):
    log = tmp_path / 'scalars.json'
    log.write_text('{"iter": 1, "lr": 0.1, "loss": 1.0}\n')
    line = one_line('analysis/plot_logs.py',
                    [str(log), '--out', places.folder], capsys, tmp_path)
    assert line.startswith(is_folder('--out', places.folder))
    # No suffix: matplotlib appends .png, and the report says so.
    out = tmp_path / 'new' / 'curves'
    assert tool('analysis/plot_logs.py').main(
        [str(log), '--out', str(out)]) == 0
    assert capsys.readouterr().out.endswith(f'-> {out}.png\n')
    assert (tmp_path / 'new').is_dir()
    assert [p.name for p in (tmp_path / 'new').iterdir()] == ['curves.png']
