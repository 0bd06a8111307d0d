"""pixpretrain.utils.progress: tqdm on stderr, ten redraws a second at
most, silent off a terminal."""
import contextlib
import io
import sys
import time
from typing import Callable, Iterator, Tuple

import pytest
from mmengine.utils import ProgressBar

from pixpretrain.utils.progress import ENV_VAR, progress, progress_bar


class FakeTTY(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def terminal() -> Iterator[Tuple[io.StringIO, FakeTTY]]:
    """stderr a (fake) terminal, stdout a plain capture, inside the test's
    body (pytest puts its own capture back between a fixture's set-up and
    the test)."""
    err, out = FakeTTY(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        yield out, err


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def fast_items(n: int = 4000, seconds: float = 0.3):
    """``n`` items spread over about ``seconds`` (busy-waiting, so the
    loop is many fast items, not a few slow ones)."""
    step = seconds / n
    for i in range(n):
        until = time.perf_counter() + step
        while time.perf_counter() < until:
            pass
        yield i


def redraws_per_second(loop: Callable[[], None]) -> float:
    """Run ``loop`` with stderr a fake terminal; the bar's redraws
    (carriage returns) per second of the loop, after checking that it drew
    and that stdout stayed clean."""
    with terminal() as (out, err):
        start = time.perf_counter()
        loop()
        elapsed = time.perf_counter() - start
    assert out.getvalue() == ''
    redraws = err.getvalue().count('\r')
    assert redraws >= 2, 'drew nothing'
    # -3: the first draw, the final one at close, and a rounding margin.
    return (redraws - 3) / elapsed


def test_off_a_terminal_nothing_is_written(capsys):
    assert list(progress(range(2000), desc='fitting')) == list(range(2000))
    with progress_bar(total=5, desc='merges') as bar:
        for _ in range(5):
            bar.update()
    captured = capsys.readouterr()
    assert captured.out == '' and captured.err == ''


def test_on_a_terminal_it_draws_on_stderr_with_an_eta():
    with terminal() as (out, err):
        items = list(progress(range(7), desc='working'))
    assert items == list(range(7))
    text = err.getvalue()
    assert out.getvalue() == ''
    assert text.startswith('\rworking:') and '7/7' in text
    assert '<' in text and 'it/s' in text  # elapsed<remaining, the rate


def test_redraws_are_at_most_ten_a_second():
    rate = redraws_per_second(lambda: list(progress(fast_items(), desc='x')))
    assert rate <= 10


def test_the_redraw_count_catches_a_bar_drawn_per_item():
    """The measure above fails against mmengine's ProgressBar, which
    redraws for every item (what the tools used before)."""

    def mmengine_loop():
        bar = ProgressBar(4000, file=sys.stderr)
        for _ in fast_items():
            bar.update()

    assert redraws_per_second(mmengine_loop) > 10


def test_env_var_forces_the_bar_on_and_off(monkeypatch, capsys):
    monkeypatch.setenv(ENV_VAR, '0')
    with terminal() as (_, err):
        list(progress(range(3)))
    assert err.getvalue() == ''
    monkeypatch.setenv(ENV_VAR, '1')
    list(progress(range(3)))  # stderr: pytest's capture, not a terminal
    captured = capsys.readouterr()
    assert '3/3' in captured.err and captured.out == ''


def test_disable_parameter_wins_over_the_env_var(monkeypatch):
    monkeypatch.setenv(ENV_VAR, '1')
    quiet = FakeTTY()
    assert list(progress('abc', disable=True, file=quiet)) == list('abc')
    assert quiet.getvalue() == ''
    monkeypatch.setenv(ENV_VAR, '0')
    loud = io.StringIO()
    list(progress('abc', disable=False, file=loud))
    assert '3/3' in loud.getvalue()


def test_without_a_length_it_counts():
    with terminal() as (_, err):
        assert list(progress(i for i in range(3))) == [0, 1, 2]
    assert '3it' in err.getvalue()


def test_only_the_main_process_draws(monkeypatch):
    monkeypatch.setattr('pixpretrain.utils.progress.is_main_process',
                        lambda: False)
    with terminal() as (_, err):
        list(progress(range(3), disable=False))
    assert err.getvalue() == ''
