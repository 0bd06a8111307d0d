"""Atomic writes: a file is either its old content or all of the new one."""
import os
import stat

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import save_checkpoint

from pixpretrain.utils import (AtomicLocalBackend, OutputPathError,
                               atomic_write, check_output_path,
                               remove_partial_writes, safe_load)


def fail_halfway(monkeypatch):
    """The next os.write writes half its bytes, then the process "dies"
    (an exception, so the test can look at the disk afterwards)."""
    write = os.write

    def write_half(fd, data):
        write(fd, data[:len(data) // 2])
        raise KeyboardInterrupt('killed mid-write')

    monkeypatch.setattr(os, 'write', write_half)


def test_writes_and_replaces(tmp_path):
    path = tmp_path / 'sub' / 'file.bin'
    atomic_write(b'first', path)
    atomic_write(b'second, longer', path)
    assert path.read_bytes() == b'second, longer'
    assert os.listdir(tmp_path / 'sub') == ['file.bin']


def test_large_data_is_written_whole(tmp_path):
    data = os.urandom(3 << 20)
    atomic_write(memoryview(data), tmp_path / 'big.bin')
    assert (tmp_path / 'big.bin').read_bytes() == data


def test_an_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'file.bin'
    path.write_bytes(b'old content')
    fail_halfway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(b'new content that never lands', path)
    assert path.read_bytes() == b'old content'
    assert os.listdir(tmp_path) == ['file.bin']  # no temporary left


def test_permissions_follow_the_umask_like_open(tmp_path):
    atomic_write(b'x', tmp_path / 'atomic')
    (tmp_path / 'plain').write_bytes(b'x')
    mode = stat.S_IMODE(os.stat(tmp_path / 'atomic').st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / 'plain').st_mode)


def test_mmengine_writes_local_files_atomically(tmp_path, monkeypatch):
    """Runner.save_checkpoint ends in mmengine's save_checkpoint, which
    writes through the local file backend: pixpretrain's."""
    assert isinstance(get_file_backend(str(tmp_path)), AtomicLocalBackend)
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path))
    fail_halfway(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(300)}}, str(path))
    monkeypatch.undo()
    assert torch.equal(safe_load(str(path))['state_dict']['w'], torch.ones(3))


def test_remove_partial_writes_only_removes_temporaries(tmp_path):
    names = ['.iter_10.pth.0123abcd.tmp', '.last_checkpoint.89abcdef.tmp',
             'iter_5.pth', '.hidden', 'notes.tmp', '.a.pth.xyz.tmp']
    for name in names:
        (tmp_path / name).write_bytes(b'')
    removed = remove_partial_writes(str(tmp_path))
    assert sorted(os.path.basename(p) for p in removed) == names[:2]
    assert sorted(os.listdir(tmp_path)) == sorted(names[2:])
    assert remove_partial_writes(str(tmp_path / 'missing')) == []


def test_a_failed_rename_leaves_no_temporary_file(tmp_path):
    """The target is a folder: os.replace fails after the bytes are
    written, and the temporary file beside it must go too."""
    (tmp_path / 'taken').mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(b'data', tmp_path / 'taken')
    assert os.listdir(tmp_path) == ['taken']
    assert os.listdir(tmp_path / 'taken') == []


def test_output_paths_are_checked_before_the_work(tmp_path):
    folder, file = tmp_path / 'folder', tmp_path / 'file.txt'
    folder.mkdir()
    file.write_text('keep me')
    with pytest.raises(OutputPathError,
                       match=r"^--out '.*folder' is a folder, not a file: "):
        check_output_path(str(folder), '--out')
    with pytest.raises(OutputPathError,
                       match=r"^--work-dir '.*file.txt' is a file, not a "):
        check_output_path(str(file), '--work-dir', folder=True)
    with pytest.raises(OutputPathError, match="file.txt' is a file, so no "):
        check_output_path(str(file / 'sub' / 'm.json'), '--json')
    with pytest.raises(OutputPathError, match='is the file being read'):
        check_output_path(str(tmp_path / '.' / 'file.txt'), 'DST',
                          sources=[str(file)])
    assert file.read_text() == 'keep me'
    # Nothing is made unless asked; then the missing folders are.
    target = tmp_path / 'a' / 'b' / 'm.json'
    assert check_output_path(str(target), '--json') == str(target)
    assert not (tmp_path / 'a').exists()
    check_output_path(str(target), '--json', create=True)
    assert (tmp_path / 'a' / 'b').is_dir() and not target.exists()
    check_output_path(str(tmp_path / 'c' / 'd'), '--work-dir', folder=True,
                      create=True)
    assert (tmp_path / 'c' / 'd').is_dir()
    assert check_output_path(None, '--json') is None
    assert check_output_path('s3://bucket/x', '--out') == 's3://bucket/x'
