"""Writes that a crash cannot leave half done.

A file is written under a temporary name in its own folder, flushed to disk
(``fsync``), then renamed over the target (``os.replace``, atomic on POSIX
and Windows), and the folder is synced so the rename itself survives a power
cut. Whoever opens the target sees either its old content or all of the new
one, never a truncated file.

Importing this module installs :class:`AtomicLocalBackend` as mmengine's
backend for local paths, so every checkpoint the Runner saves
(``Runner.save_checkpoint`` -> ``mmengine.runner.save_checkpoint`` ->
``backend.put``) is written this way.
"""
import io
import os
import os.path as osp
import re
import uuid
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import torch
from mmengine.fileio import LocalBackend, register_backend

from .errors import OutputPathError

LAST_CHECKPOINT = 'last_checkpoint'
# The temporary name atomic_write gives a file: .<name>.<8 hex digits>.tmp
_PARTIAL_WRITE = re.compile(r'^\..+\.[0-9a-f]{8}\.tmp$')


def _fsync_directory(directory: str) -> None:
    """Make a rename inside ``directory`` durable (POSIX only: Windows cannot
    open a folder, and its renames are journaled by NTFS)."""
    if not hasattr(os, 'O_DIRECTORY'):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(data: Union[bytes, memoryview],
                 path: Union[str, Path]) -> None:
    """Replace ``path``'s content with ``data``, all or nothing.

    The bytes go to a hidden temporary file beside ``path``
    (``.<name>.<random>.tmp``), which is fsynced and renamed over ``path``;
    on an exception the temporary file is removed and ``path`` is untouched.
    A process killed mid-write (SIGKILL, power cut) leaves ``path`` as it
    was, plus the temporary file (see :func:`remove_partial_writes`).

    Args:
        data: The new content.
        path: The file to write; its folder is created if missing.
    """
    path = osp.abspath(os.fspath(path))
    directory = osp.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = osp.join(directory,
                   f'.{osp.basename(path)}.{uuid.uuid4().hex[:8]}.tmp')
    # os.open with 0o666 honours the umask, as open() does for the target.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:  # one write() stops short of 2 GiB on Linux
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        # A rename that fails (``path`` is a folder) leaves no temporary.
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def check_output_path(path: Optional[str], flag: str, folder: bool = False,
                      sources: Sequence[str] = (),
                      create: bool = False,
                      keep: Optional[str] = None) -> Optional[str]:
    """Refuse an output path the write would fail on, before the work that
    makes the output; with ``create``, make its missing folders.

    Args:
        path: The file to write (the folder to write into with
            ``folder``); None or a URL (``s3://...``) passes unchecked.
        flag: How the user gave it (``'--out'``), named in the message.
        folder: ``path`` names a folder, not a file.
        sources: Files the tool reads, which ``path`` must not be.
        create: Make ``path`` (``folder``) or its parent folders.
        keep: Refuse an existing file, saying why it should stay (the
            tool's ``--overwrite`` lifts it).

    Returns:
        ``path`` as a string (None stays None).

    Raises:
        OutputPathError: ``path`` is a folder (a file with ``folder``), a
            parent of it is a file, or it is one of ``sources``.
    """
    if not path or '://' in str(path):
        return path
    path = os.fspath(path)
    if folder and osp.exists(path) and not osp.isdir(path):
        raise OutputPathError(
            f"{flag} '{path}' is a file, not a folder: name a folder to "
            'write into (or move the file away)')
    if not folder and osp.isdir(path):
        raise OutputPathError(
            f"{flag} '{path}' is a folder, not a file: name the file to "
            f"write, e.g. '{osp.join(path, 'NAME')}'")
    if keep and osp.isfile(path):
        raise OutputPathError(
            f"{flag} '{path}' exists and {keep}: pass --overwrite to "
            'replace it, or write to another path')
    for source in sources:
        if osp.exists(path) and osp.exists(source) and \
                osp.samefile(path, source):
            raise OutputPathError(
                f"{flag} '{path}' is the file being read ('{source}'): "
                'write to another path, or the source is overwritten')
    parent = osp.dirname(osp.abspath(path))
    while not osp.exists(parent):
        parent = osp.dirname(parent)
    if not osp.isdir(parent):
        raise OutputPathError(
            f"{flag} '{path}': '{parent}' is a file, so no folder can be "
            'made there; choose another path')
    if create:
        os.makedirs(path if folder else osp.dirname(osp.abspath(path)),
                    exist_ok=True)
    return path


def torch_save_atomic(obj: Any, path: Union[str, Path]) -> None:
    """``torch.save(obj, path)`` through :func:`atomic_write`: ``path`` never
    holds a partial file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(buffer.getbuffer(), path)


def remove_partial_writes(directory: str) -> List[str]:
    """Delete the temporary files that :func:`atomic_write` leaves in
    ``directory`` when its process is killed mid-write.

    Only call it while no other process writes into ``directory``.

    Returns:
        The paths removed.
    """
    if not osp.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        if _PARTIAL_WRITE.match(name):
            path = osp.join(directory, name)
            os.remove(path)
            removed.append(path)
    return removed


def write_last_checkpoint(work_dir: str, checkpoint: str) -> None:
    """Point ``<work_dir>/last_checkpoint`` (what auto-resume reads) at
    ``checkpoint``, atomically. Call it only once ``checkpoint`` is complete
    on disk."""
    atomic_write(checkpoint.encode('utf-8'), osp.join(work_dir,
                                                      LAST_CHECKPOINT))


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's ``last_checkpoint`` pointer names, if any.

    Args:
        work_dir: The run's work dir, holding the pointer file.
    """
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` and ``put_text`` write
    through :func:`atomic_write`."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')
