import io

import pytest

from pixpretrain.utils.progress import track_progress


def test_items_pass_through_with_count_and_eta():
    out = io.StringIO()
    items = list(track_progress(range(7), description='working', file=out,
                                backend='mmengine', min_interval=0))
    assert items == list(range(7))
    text = out.getvalue()
    assert text.startswith('working\n')
    assert '7/7' in text and 'ETA' in text and 'task/s' in text


def test_redraws_are_throttled():
    out = io.StringIO()
    list(track_progress(range(1000), file=out, backend='mmengine',
                        min_interval=60))
    assert out.getvalue().count('\r') == 1  # one final redraw, not 1000
    assert '1000/1000' in out.getvalue()


def test_without_a_length_it_counts():
    out = io.StringIO()
    items = list(track_progress((i for i in range(3)), file=out,
                                backend='mmengine', min_interval=0))
    assert items == [0, 1, 2]
    assert 'completed: 3' in out.getvalue()


def test_disabled_draws_nothing():
    out = io.StringIO()
    assert list(track_progress('abc', disable=True, file=out)) == list('abc')
    assert out.getvalue() == ''


def test_tqdm_backend_when_installed():
    pytest.importorskip('tqdm')
    out = io.StringIO()
    assert list(track_progress(range(4), description='t', file=out,
                               backend='tqdm')) == list(range(4))
    assert '4/4' in out.getvalue()
