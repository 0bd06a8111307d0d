"""Fixtures shared across the test folders."""
import pathlib
from typing import NamedTuple

import pytest
import torch


class WritesFile:
    """Unpickling this would touch a file: the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path), ))


class CodeRunningCheckpoint(NamedTuple):
    path: pathlib.Path  # a .pth whose unpickling would create `marker`
    marker: pathlib.Path  # exists only if code in the file ran


@pytest.fixture
def code_running_checkpoint(tmp_path) -> CodeRunningCheckpoint:
    """A checkpoint shaped like mmengine's (weights under ``state_dict``,
    ``meta``) that also holds an object whose unpickling touches a file."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'crafted.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 1}, 'state_dict': {},
                'payload': WritesFile(marker)}, path)
    return CodeRunningCheckpoint(path, marker)
