"""What every command-line tool under ``tools/`` shares: the
``--cfg-options`` flag, one way to turn an error into an exit code and a
line on stderr, and one way to hand a result over (stdout and a JSON file).

A tool parses its arguments, then runs its work through :func:`run_cli`::

    def main(argv=None) -> int:
        args = parse_args(argv)
        return run_cli(_run, args)

so ``main()`` always returns the exit code, and the script ends with
``sys.exit(main())``.
"""
import argparse
import json
import logging
import os
import os.path as osp
import sys
from typing import (Any, Callable, Dict, List, NoReturn, Optional, Tuple,
                    Type)

from pixpretrain.models.converters import convert_file
from pixpretrain.models.converters.files import Check, Converter
from pixpretrain.registry import explain
from pixpretrain.utils.fileio import atomic_write, check_output_path
# The parser's pieces, shared by every tool (imported from here by them).
from .cli_args import (add_cfg_options, doc_summary,  # noqa: F401
                       parse_launched)


def run_cli(body: Callable[..., Optional[int]], *args: Any,
            expected: Tuple[Type[BaseException], ...] = ()) -> int:
    """Run a tool's work and return its exit code.

    An error a user can fix ends the tool with ``error: <one line>`` on
    stderr and exit code 1; any other error propagates with its traceback,
    since that is a bug to report, not a mistake to correct.

    Args:
        body: The tool's work; returns an exit code, or None for 0.
        *args: Passed to ``body``.
        expected: Exception types the tool raises on purpose with a
            readable message although they are not pixpretrain errors (e.g.
            ``FileNotFoundError`` from a path the user gave): printed as
            one line as well.

    Returns:
        int: ``body``'s code (0 for None), or 1 after an explained error.
    """
    try:
        return _run_explained(body, args, expected)
    finally:
        leave_process_group()


_left_process_group = False


def leave_process_group() -> None:
    """Destroy this process's process groups, if it has any, while the
    interpreter is whole (see :func:`exit_tool` for what else it takes)."""
    global _left_process_group
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        _left_process_group = True


def exit_tool(code: int) -> NoReturn:
    """End a tool's process with ``code``, once its work and output are
    done: a process that was one rank of a job leaves without interpreter
    teardown (``os._exit``, after flushing its streams and log files),
    where gloo's threads still alive can abort a finished rank
    (``terminate called without an active exception``, exit code -6, seen
    in two-rank runs on CPU); any other exits as usual."""
    if not _left_process_group:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _run_explained(body: Callable[..., Optional[int]], args: tuple,
                   expected: Tuple[Type[BaseException], ...]) -> int:
    try:
        code = body(*args)
    except BrokenPipeError:
        # The reader went away (`tool | head`): not an error of the tool's.
        # Point stdout at nothing so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 -- user errors get one line
        message = explain(exc)
        if message is None:
            if not isinstance(exc, expected):
                raise
            # KeyError's str() quotes its message; the others read as is.
            message = (exc.args[0] if isinstance(exc, KeyError) and exc.args
                       else str(exc))
        print(f'error: {message}', file=sys.stderr)
        return 1
    return 0 if code is None else code


def emit_json(result: Dict[str, Any], path: Optional[str] = None,
              show: bool = True, flag: str = '--json') -> None:
    """Hand a tool's result over: printed as JSON, and written to ``path``
    (its missing folders made; a tool checks ``path`` with
    :func:`~pixpretrain.utils.fileio.check_output_path` before its work).

    Args:
        result: JSON-serialisable result (numpy floats included).
        path: The ``--json`` file, or None.
        show: Print the JSON on stdout (tools that print their own summary
            pass False).
        flag: The option that named ``path``, for an error message.

    Raises:
        OutputPathError: ``path`` is a folder, or below a file (after the
            JSON is printed, so a result on stdout is not lost).
    """
    text = json.dumps(result, indent=2)
    if show:
        print(text)
    if path:
        check_output_path(path, flag, create=True)
        if osp.islink(path) or (osp.exists(path) and not osp.isfile(path)):
            # a link, /dev/stdout, a pipe: written into, not replaced
            with open(path, 'w') as f:
                f.write(text)
        else:
            atomic_write(text.encode('utf-8'), path)


def run_json_tool(compute: Callable[[argparse.Namespace], Dict[str, Any]],
                  args: argparse.Namespace) -> int:
    """:func:`run_cli` for a tool whose result is JSON: ``args.json`` is
    checked before ``compute`` runs (a folder or a path below a file is
    refused in one line), then the result is printed and written there.

    Args:
        compute: The measuring, e.g. ``knn_eval``; takes ``args``.
        args: The parsed flags, ``json`` among them.

    Returns:
        int: The exit code.
    """
    def body() -> None:
        check_output_path(args.json, '--json')
        emit_json(compute(args), args.json)

    return run_cli(body)


def convert_main(description: str, convert: Converter,
                 check: Optional[Check] = None,
                 pixpretrain_checkpoint: bool = True,
                 argv: Optional[List[str]] = None) -> int:
    """The command line of every model converter: ``SRC DST``, converted
    by :func:`pixpretrain.models.converters.convert_file`.

    Args:
        description: The tool's help text (its docstring).
        convert: One of :mod:`pixpretrain.models.converters`' converters.
        check: Describes the converted tensors, raising on a mismatch
            (e.g. :func:`~pixpretrain.models.converters.describe_vit`).
        pixpretrain_checkpoint: Save a checkpoint mmengine loads; else a
            bare state dict (for timm).
        argv: The arguments; None reads ``sys.argv``.

    Returns:
        int: 0, or 1 after a one-line error (a missing or refused file, a
        tensor that has no place).
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to save the converted weights')
    args = parser.parse_args(argv)

    def convert_and_report() -> None:
        lines = convert_file(args.src, args.dst, convert, check,
                             pixpretrain_checkpoint)
        print('\n'.join(lines))

    # A missing SRC is a plain FileNotFoundError from torch.
    return run_cli(convert_and_report, expected=(FileNotFoundError, ))
