"""Every tool's ``--help`` opens with a whole description: not a docstring's
first line cut mid-sentence, nor one whose shell continuations Python
swallowed."""
import argparse
import contextlib
import io
import re
import runpy
from pathlib import Path

import pytest

from pixpretrain.apis.cli import doc_summary

REPO = Path(__file__).resolve().parents[2]
TOOLS = sorted((REPO / 'tools').rglob('*.py'))
# A sentence ends so; a description that introduces examples ends with ':'.
ENDINGS = ('.', ':', '!', '?', ')')


def help_parser(tool: Path, monkeypatch) -> argparse.ArgumentParser:
    """The parser that answers ``tool --help``, caught as it parses."""
    parsers = []
    parse = argparse.ArgumentParser.parse_args

    def recording(self, *args, **kwargs):
        parsers.append(self)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', recording)
    main = runpy.run_path(str(tool))['main']
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit:
        main(['--help'])
    assert exit.value.code == 0 and out.getvalue().startswith('usage:')
    return parsers[-1]


def test_doc_summary_keeps_the_whole_first_paragraph():
    doc = '''kNN accuracy of a checkpoint, or of the untrained model, with a
    config's validation.

    Example: ...
    '''
    assert doc_summary(doc) == ("kNN accuracy of a checkpoint, or of the "
                                "untrained model, with a config's "
                                "validation.")
    assert doc_summary(None) == ''


@pytest.mark.parametrize('tool', TOOLS,
                         ids=lambda p: str(p.relative_to(REPO)))
def test_help_description_is_whole(tool, monkeypatch):
    description = help_parser(tool, monkeypatch).description or ''
    first = ' '.join(description.strip().split('\n\n')[0].split())
    assert first, 'no description'
    assert first.endswith(ENDINGS), f'cut off: {first!r}'
    # `\` + newline in a docstring joins an example's lines with the next
    # line's indentation: "a.py         --out x". Aligned comments are fine.
    assert not re.search(r'\S {4,}[^\s#]', description), description
