"""A wrong flag value ends a tool with one line on stderr naming the flag
and the fix, a non-zero exit and no traceback, before any work starts
(the config and checkpoint named here need not exist: nothing reads them
before the refusal)."""
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = {}


def tool_main(name: str):
    """``main`` of ``tools/<name>.py``, loaded once."""
    if name not in TOOLS:
        TOOLS[name] = runpy.run_path(str(REPO / 'tools' / f'{name}.py'))
    return TOOLS[name]['main']


def refusal(name: str, argv, capsys) -> str:
    """Run the tool; assert it refused in one line; return that line."""
    try:
        code = tool_main(name)(argv)
    except SystemExit as exit:  # argparse's usage error
        code = exit.code
    err = capsys.readouterr().err
    assert code not in (0, None), err
    assert 'Traceback' not in err, err
    lines = [line for line in err.splitlines()
             if line and not line.startswith(('usage:', ' '))]
    assert len(lines) == 1, err
    return lines[0]


DEVICE_TOOLS = [
    ('analysis/probe', ['cfg.py', 'ckpt.pth']),
    ('analysis/caption', ['cfg.py', 'ckpt.pth', 'a.png']),
    ('analysis/igpt_complete', ['cfg.py', 'ckpt.pth']),
    ('analysis/igpt_sampling_speed', []),
]


@pytest.mark.parametrize('name, argv', DEVICE_TOOLS,
                         ids=[t for t, _ in DEVICE_TOOLS])
def test_a_device_the_machine_lacks(name, argv, capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    line = refusal(name, argv + ['--device', 'cuda'], capsys)
    assert '--device' in line and 'no CUDA device here' in line
    line = refusal(name, argv + ['--device', 'tpu'], capsys)
    assert "'tpu' is not a device" in line


PROBE = ('analysis/probe', ['cfg.py'])
REFUSED = [
    (PROBE, ['--batch-size', '0'], '--batch-size: 0: must be 1 or more'),
    (PROBE, ['--weight-decays', 'abc'], "'abc' is not a number"),
    (PROBE, ['--knn-k', 'abc'], "--knn-k: 'abc': 'abc' is not an integer"),
    (PROBE, ['--knn-k', '-3'], '-3: must be 1 or more'),
    (PROBE, ['--knn-k', '20,0'], '0: must be 1 or more'),
    (PROBE, ['--knn-temperature', '0'], '--knn-temperature: 0: must be '
     'above 0'),
    (PROBE, ['--knn-temperature', '-1'], 'must be above 0'),
]
BENCH = ('analysis/benchmark', ['cfg.py'])
REFUSED += [
    (BENCH, ['--iters', '0'], '--iters: 0: must be 1 or more'),
    (BENCH, ['--warmup', '-1'], '--warmup: -1: must be 0 or more'),
    (BENCH, ['--batch-size', '0'], '--batch-size: 0: must be 1 or more'),
    (BENCH, ['--fake-images', '0'], '--fake-images: 0: must be 1 or more'),
    (BENCH, ['--peak-tflops', '-1'], '--peak-tflops: -1: must be above 0'),
    (BENCH, ['--profile', '0'], '--profile: 0: must be 1 or more'),
    (BENCH, ['--compile-backend', 'eager'], 'add --compile or drop '
     '--compile-backend'),
    (BENCH, ['--data-root', 'x', '--fake-images', '2'], 'give one'),
]
FIT_PALETTE = ('dataset_converters/fit_palette', ['cfg.py'])
REFUSED += [(FIT_PALETTE, [flag, '0'], f'{flag}: 0: must be 1 or more')
            for flag in ('--num-colors', '--iters', '--batch-size',
                         '--num-images', '--pixels-per-image')]
FIT_BPE = ('dataset_converters/fit_bpe', ['cfg.py'])
REFUSED += [
    (FIT_BPE, ['--max-captions', '0'], '--max-captions: 0: must be 1 or'),
    (FIT_BPE, ['--max-captions', '-1'], '--max-captions: -1: must be 1 or'),
    (FIT_BPE, ['--vocab-size', '0'], '--vocab-size: 0: must be 1 or more'),
    (FIT_BPE, ['--min-frequency', '0'], '--min-frequency: 0: must be 1'),
]
COMPLETE = ('analysis/igpt_complete', ['cfg.py', 'ckpt.pth'])
REFUSED += [(COMPLETE, [flag, '0'], f'{flag}: 0: must be 1 or more')
            for flag in ('--num-images', '--num-samples', '--scale',
                         '--top-k')]
REFUSED += [(COMPLETE, ['--temperature', '0'], 'must be above 0')]
PALETTE = ('analysis/palette_report', ['cfg.py'])
REFUSED += [(PALETTE, [flag, '0'], f'{flag}: 0: must be 1 or more')
            for flag in ('--show', '--scale', '--size')]
REFUSED += [(PALETTE, ['--num-images', '-1'], '-1: must be 0 or more')]
SPEED = ('analysis/igpt_sampling_speed', [])
REFUSED += [
    (SPEED, ['--arch', 'xxl'], "--arch: invalid choice: 'xxl' (choose from"),
    (SPEED, ['--batch-size', '0'], '--batch-size: 0: must be 1 or more'),
    (SPEED, ['--img-size', '0'], '--img-size: 0: must be 1 or more'),
]
FLOPS = ('analysis/get_flops', ['cfg.py'])
REFUSED += [(FLOPS, ['--shape', '-1', '5'], '--shape: -1: must be 1 or more'),
            (FLOPS, ['--shape', '0', '0'], '--shape: 0: must be 1 or more')]
SHARDS = 'dataset_converters/make_shards'
REFUSED += [
    ((SHARDS, ['out', '--image-folder', 'src', '--no-captions']),
     ['--templates', 'a {}.'], '--templates makes captions from an image '
     "folder's classes: drop it with --no-captions or --manifest"),
    ((SHARDS, ['out', '--manifest', 'm.jsonl']), ['--templates', 'a {}.'],
     'drop it with --no-captions or --manifest'),
    ((SHARDS, ['out', '--image-folder', 'src']), ['--data-root', 'd'],
     '--data-root is where manifest paths start: drop it with '
     '--image-folder'),
    ((SHARDS, ['out', '--image-folder', 'src']), ['--shard-size', '0'],
     '--shard-size: 0: must be 1 or more'),
    ((SHARDS, ['out', '--image-folder', 'src']),
     ['--max-bad-fraction', '2'], 'give 0 to 1'),
]


@pytest.mark.parametrize('tool, extra, words', REFUSED,
                         ids=[' '.join([t[0].split('/')[-1], *e])
                              for t, e, _ in REFUSED])
def test_refused_in_one_line(tool, extra, words, capsys):
    name, argv = tool
    assert words in refusal(name, argv + extra, capsys)
