"""Every relative link in the Markdown pages points at a file that exists,
and every ``#anchor`` at a heading of the target page, slugged as GitHub
slugs it (a broken anchor silently lands readers at the top of the page).
"""
import re
import unicodedata
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / 'README.md', *(REPO / 'docs').rglob('*.md'),
                *(REPO / 'examples').rglob('*.md')])

FENCE = re.compile(r'^\s*(```|~~~)')
HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
# [text](target "title") and ![alt](target); the text may hold `code`.
MD_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?'
                     r'(?:\s+"[^"]*")?\s*\)')
HTML_LINK = re.compile(r'<(?:a|img)\b[^>]*?\b(?:href|src)="([^"]+)"')
INLINE_CODE = re.compile(r'`[^`]*`')


def prose_lines(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: the rendered text lower-cased,
    punctuation other than '-' and '_' dropped, spaces made '-'."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # links
    text = re.sub(r'<[^>]+>', '', text)  # inline HTML tags
    text = text.replace('`', '').lower()
    kept = ''.join(
        c for c in text
        if c in ' -_' or unicodedata.category(c)[0] in 'LNM')
    return kept.replace(' ', '-')


def anchors(page: Path) -> Set[str]:
    """The heading anchors of ``page``, repeats numbered '-1', '-2' ... as
    GitHub numbers them."""
    seen: Dict[str, int] = {}
    found = set()
    for _, line in prose_lines(page.read_text(encoding='utf-8')):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f'{slug}-{count}')
    return found


def relative_links(page: Path) -> Iterator[Tuple[int, str]]:
    """(line number, target) of every link that is not a URL."""
    for number, line in prose_lines(page.read_text(encoding='utf-8')):
        line = INLINE_CODE.sub('', line)  # `[x](y)` in code is not a link
        for match in [*MD_LINK.finditer(line), *HTML_LINK.finditer(line)]:
            target = match.group(1)
            if not re.match(r'^[a-z][a-z0-9+.-]*:', target, re.I):
                yield number, target


def broken_links(page: Path, root: Path = REPO) -> List[str]:
    """One line per broken link of ``page``: where, and what is wrong.

    Args:
        page: A Markdown file.
        root: The paths in the messages are relative to it.
    """
    problems = []
    for number, target in relative_links(page):
        path, _, anchor = target.partition('#')
        file = (page.parent / unquote(path)).resolve() if path else page
        where = f'{page.relative_to(root)}:{number}: {target}'
        if not file.exists():
            problems.append(f'{where}: no file {file}')
        elif anchor and file.suffix == '.md' and \
                unquote(anchor) not in anchors(file):
            problems.append(f'{where}: no heading with anchor #{anchor} '
                            f'in {file.relative_to(root)}')
    return problems


def test_slugs_follow_github():
    assert github_slug('iGPT (CPU)') == 'igpt-cpu'
    assert github_slug('Config and registry tools') == \
        'config-and-registry-tools'
    assert github_slug('`ZeroShotHook`: prompts, one-time') == \
        'zeroshothook-prompts-one-time'
    assert github_slug('MAE ViT-B/16, 800 epochs') == 'mae-vit-b16-800-epochs'
    assert github_slug('From [mmpretrain](x.md)') == 'from-mmpretrain'


def test_the_checker_finds_a_wrong_anchor_and_a_missing_file(tmp_path):
    (tmp_path / 'b.md').write_text('# iGPT (CPU)\n\n## Twice\n## Twice\n')
    page = tmp_path / 'a.md'
    page.write_text('[ok](b.md#igpt-cpu) [ok](b.md#twice-1) [x](b.md#igpt)\n'
                    '```\n[in code](nowhere.md)\n```\n'
                    '[x](missing.md) `[code](nowhere.md)` '
                    '[web](https://example.com/#x) [self](#nothing)\n')
    problems = broken_links(page, root=tmp_path)
    assert [p.split(': ')[1] for p in problems] == [
        'b.md#igpt', 'missing.md', '#nothing']


@pytest.mark.parametrize('page', PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_and_anchors_resolve(page):
    assert broken_links(page) == []
