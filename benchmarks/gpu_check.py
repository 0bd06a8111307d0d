"""Helpers of ``benchmarks/gpu_device_check.sh``: the machine's description,
the bf16 matrix-product ceiling, the generated JPEGs, and the summary of
the runs that script made.

    python benchmarks/gpu_check.py env --json env.json
    python benchmarks/gpu_check.py data DIR COUNT
    python benchmarks/gpu_check.py summary RUNS_DIR --json results.json \\
        --md summary.md

``summary`` reads every ``*.json`` the script's pieces wrote into RUNS_DIR
(``env.json``, ``settings.json``,
``model-<pix|mm>-<eager|compile>-<round>.json``,
``loader-<pix|mm>.json``, ``fsdp-igpt-l[-cp].json``) and ``pieces.tsv`` (one line per piece: name,
exit status or 'skipped', seconds, note), and reports what exists: a piece
that failed or was skipped shows as such, never as a number.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import re
import statistics
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Issue 8's target and its FLOP estimate for MAE ViT-B/16 at 224 px.
TARGET_MFU = 0.35
EXPECTED_GFLOPS_PER_IMAGE = 58.0
TOOLBOXES = dict(pix='pixpretrain', mm='mmpretrain 1.2.0')
MODES = dict(eager='eager', compile='torch.compile')
RUN_NAME = re.compile(r'^model-(pix|mm)-(eager|compile)-(\d+)$')


# --------------------------------------------------------------- env
def _version(module: str) -> Optional[str]:
    try:
        return __import__(module).__version__
    except Exception as error:  # missing, or fails to import: say which
        return f'unavailable ({type(error).__name__})'


def matmul_tflops(n: int = 8192, dtype: str = 'bf16', warmup: int = 3,
                  iters: int = 10) -> Dict[str, float]:
    """TFLOP/s of an n x n x n matrix product on random data: the ceiling
    the training step's MFU can be read against, besides the data sheet's.

    On a GPU each product is timed with CUDA events and the median taken;
    on a CPU (the dry run) with the host clock.
    """
    import torch
    types = dict(bf16=torch.bfloat16, fp16=torch.float16, fp32=torch.float32)
    cuda = torch.cuda.is_available()
    device = 'cuda' if cuda else 'cpu'
    # Random operands: zeros run measurably faster on the tensor cores.
    a = torch.randn(n, n, device=device, dtype=types[dtype])
    b = torch.randn(n, n, device=device, dtype=types[dtype])
    for _ in range(warmup):
        a @ b
    times = []
    for _ in range(iters):
        if cuda:
            start, end = (torch.cuda.Event(enable_timing=True)
                          for _ in range(2))
            start.record()
            a @ b
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
    seconds = statistics.median(times)
    return dict(n=n, dtype=dtype, median_s=seconds,
                tflops=2 * n**3 / seconds / 1e12, repeats=iters)


def environment(matmul_n: int = 8192) -> dict:
    """Versions, the GPU's properties and measured matmul ceiling, the
    data-sheet peak MFU is computed against."""
    from pixpretrain.apis.analysis import benchmark
    import torch
    env = dict(taken=time.strftime('%Y-%m-%d %H:%M:%S'),
               python=platform.python_version(), torch=torch.__version__,
               cuda=torch.version.cuda,
               cudnn=(torch.backends.cudnn.version()
                      if torch.backends.cudnn.is_available() else None),
               cpu=benchmark.cpu_name(), cpu_cores=os.cpu_count())
    for module in ('numpy', 'cv2', 'triton', 'mmengine', 'mmcv',
                   'mmpretrain', 'pixpretrain'):
        env[module] = _version(module)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, capability=f'{props.major}.{props.minor}',
                   gpu_memory_gib=props.total_memory / 2**30,
                   multiprocessors=props.multi_processor_count,
                   bf16_supported=torch.cuda.is_bf16_supported())
    env['peak_tflops_bf16'] = benchmark.peak_tflops('bf16')
    env['peak_source'] = ('data sheet, dense bf16 (pixpretrain/apis/analysis/'
                          'benchmark.py PEAK_TFLOPS)'
                          if env['peak_tflops_bf16'] else
                          'no GPU, or one missing from PEAK_TFLOPS')
    env['matmul'] = matmul_tflops(matmul_n)
    return env


# --------------------------------------------------------------- summary
def read_pieces(path: str) -> List[dict]:
    """``pieces.tsv``: name, exit status or 'skipped', seconds, note."""
    pieces = []
    if not osp.exists(path):
        return pieces
    with open(path) as f:
        for line in f:
            fields = line.rstrip('\n').split('\t')
            if len(fields) >= 3:
                pieces.append(dict(name=fields[0], status=fields[1],
                                   seconds=float(fields[2]),
                                   note=fields[3] if len(fields) > 3 else ''))
    return pieces


def collect(runs_dir: str) -> dict:
    """Every result file of one script run, by kind."""
    found: dict = dict(env=None, settings=None, model={}, loader={},
                       fsdp={})
    for path in sorted(glob.glob(osp.join(runs_dir, '*.json'))):
        name = osp.splitext(osp.basename(path))[0]
        with open(path) as f:
            data = json.load(f)
        match = RUN_NAME.match(name)
        if name in ('env', 'settings'):
            found[name] = data
        elif match:
            toolbox, mode, rnd = match.groups()
            data['round'] = int(rnd)
            found['model'].setdefault(f'{toolbox}-{mode}', []).append(data)
        elif name.startswith('loader-'):
            found['loader'][name[len('loader-'):]] = data
        elif name.startswith('fsdp-'):
            found['fsdp'][name] = data
    for runs in found['model'].values():
        runs.sort(key=lambda r: r['round'])
    found['pieces'] = read_pieces(osp.join(runs_dir, 'pieces.tsv'))
    return found


def _median(runs: List[dict], key: str) -> Optional[float]:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def series_summary(runs: List[dict]) -> dict:
    """Medians over the rounds of one toolbox and mode."""
    summary = dict(rounds=[r['round'] for r in runs],
                   images_per_s_each=[r['images_per_s'] for r in runs])
    for key in ('images_per_s', 'step_time_s', 'warmup_time_s',
                'peak_memory_mib',
                'train_gflops_per_image', 'achieved_tflops', 'mfu',
                'peak_tflops'):
        summary[key] = _median(runs, key)
    first = runs[0]
    for key in ('device', 'precision', 'compiled', 'batch_size', 'data',
                'compile'):
        if key in first:
            summary[key] = first[key]
    return summary


def paired_ratios(num: List[dict], den: List[dict]) -> Optional[dict]:
    """images/s ratios of two series, paired by round where both have it,
    else (e.g. one compiled run) each ``num`` run against ``den``'s
    median."""
    if not num or not den:
        return None
    by_round = {r['round']: r['images_per_s'] for r in den}
    ratios = [r['images_per_s'] / by_round[r['round']] for r in num
              if r['round'] in by_round]
    pairing = 'same round'
    if not ratios:
        median = statistics.median(by_round.values())
        ratios = [r['images_per_s'] / median for r in num]
        pairing = 'against the median'
    return dict(ratios=ratios, median=statistics.median(ratios),
                pairing=pairing)


def summarise(found: dict) -> dict:
    """The figures issue 8 asks for, from what the runs left."""
    model = found['model']
    series = {key: series_summary(runs) for key, runs in model.items()}
    results = dict(env=found['env'], settings=found['settings'],
                   pieces=found['pieces'], series=series,
                   loader=found['loader'], fsdp=found['fsdp'], ratios={},
                   runs=model)
    for name, (num, den) in {
            'pix eager / mm eager': ('pix-eager', 'mm-eager'),
            'pix compiled / mm eager': ('pix-compile', 'mm-eager'),
            'pix compiled / pix eager': ('pix-compile', 'pix-eager'),
            'mm compiled / mm eager': ('mm-compile', 'mm-eager'),
            'pix compiled / mm compiled': ('pix-compile', 'mm-compile')
    }.items():
        ratio = paired_ratios(model.get(num, []), model.get(den, []))
        if ratio:
            results['ratios'][name] = ratio
    pix = [s for k, s in series.items() if k.startswith('pix-')]
    best = max(pix, key=lambda s: s['images_per_s'], default=None)
    if best is not None:
        results['best_pix'] = dict(
            compiled=best.get('compiled'), images_per_s=best['images_per_s'],
            mfu=best['mfu'],
            target_mfu=TARGET_MFU,
            target_met=(best['mfu'] >= TARGET_MFU
                        if best['mfu'] is not None else None))
        for toolbox, loader in found['loader'].items():
            loader['share_of_best_pix_model'] = (loader['images_per_s'] /
                                                 best['images_per_s'])
    gflops = [s['train_gflops_per_image'] for s in series.values()
              if s.get('train_gflops_per_image')]
    if gflops:
        results['gflops_per_image'] = dict(
            counted=gflops, expected=EXPECTED_GFLOPS_PER_IMAGE)
    return results


def _fmt(value: Optional[float], spec: str, scale: float = 1.0) -> str:
    return '-' if value is None else format(value * scale, spec)


def markdown(results: dict) -> str:
    """The tables printed last (the device tool returns the output's end)."""
    env = results.get('env') or {}
    lines = []
    gpu = env.get('gpu', 'no GPU')
    lines.append(f"Device: {gpu}; torch {env.get('torch')}, CUDA "
                 f"{env.get('cuda')}, {env.get('cpu_cores')} CPU cores; "
                 f"taken {env.get('taken')}.")
    mm = env.get('matmul')
    if mm:
        lines.append(f"MFU against {env.get('peak_tflops_bf16')} TFLOP/s "
                     f"({env.get('peak_source')}); measured {mm['n']}^3 "
                     f"{mm['dtype']} matmul on random data: "
                     f"{mm['tflops']:.3g} TFLOP/s.")
    lines += ['', '| run | batch | rounds | img/s median (each) | step ms | '
              'warm-up s | peak GiB | GFLOP/img | TFLOP/s | MFU |',
              '|---' * 10 + '|']
    for key in sorted(results['series'], key=lambda k: (k[:3] != 'pix', k)):
        s = results['series'][key]
        toolbox, mode = key.split('-')
        each = ' / '.join(f'{v:.4g}' for v in s['images_per_s_each'])
        lines.append(
            f"| {TOOLBOXES[toolbox]} {s.get('precision', '')} {MODES[mode]} "
            f"| {s.get('batch_size', '-')} | {len(s['rounds'])} "
            f"| {s['images_per_s']:.1f} ({each}) "
            f"| {_fmt(s['step_time_s'], '.1f', 1e3)} "
            f"| {_fmt(s['warmup_time_s'], '.1f')} "
            f"| {_fmt(s['peak_memory_mib'], '.2f', 1 / 1024)} "
            f"| {_fmt(s['train_gflops_per_image'], '.1f')} "
            f"| {_fmt(s['achieved_tflops'], '.3g')} "
            f"| {_fmt(s['mfu'], '.1%')} |")
    for name, ratio in results['ratios'].items():
        each = ' / '.join(f'{r:.2f}' for r in ratio['ratios'])
        lines.append(f"- {name}: **{ratio['median']:.2f}** ({each}; "
                     f"{ratio['pairing']})")
    best = results.get('best_pix')
    if best and best['mfu'] is not None:
        verdict = 'met' if best['target_met'] else 'missed'
        lines.append(f"- pixpretrain's best MFU {best['mfu']:.1%} "
                     f"({'compiled' if best['compiled'] else 'eager'}): "
                     f"target {TARGET_MFU:.0%} {verdict}")
    flops = results.get('gflops_per_image')
    if flops:
        lines.append(f"- counted GFLOP per image (fwd + bwd): "
                     f"{', '.join(f'{g:.1f}' for g in flops['counted'])}; "
                     f"issue 8 expects about {flops['expected']:.0f} "
                     'for ViT-B/16')
    for toolbox, loader in sorted(results['loader'].items()):
        share = loader.get('share_of_best_pix_model')
        lines.append(
            f"- {TOOLBOXES[toolbox]} data loader, {loader['workers']} "
            f"workers, batch {loader['batch_size']}: "
            f"{loader['images_per_s']:.0f} img/s "
            f"({loader['images_per_s_per_worker']:.0f} per worker)"
            + (f", {share:.0%} of pixpretrain's best model img/s"
               if share is not None else ''))
    lines += fsdp_lines(results.get('fsdp', {}))
    bad = [p for p in results['pieces'] if p['status'] != '0']
    for piece in bad:
        what = ('skipped' if piece['status'] == 'skipped' else
                f"failed (exit {piece['status']})")
        lines.append(f"- piece {piece['name']} {what} after "
                     f"{piece['seconds']:.0f} s {piece['note']}".rstrip())
    if not bad and results['pieces']:
        lines.append(f"- all {len(results['pieces'])} pieces finished")
    return '\n'.join(lines)


def fsdp_lines(runs: dict) -> List[str]:
    """Issue 19's table: iGPT-L sharded steps (benchmarks/fsdp_gpu_step.py).
    """
    if not runs:
        return []
    lines = ['', '| sharded run | GPUs | images/GPU | checkpointing | outcome '
             '| step s | img/s | model TFLOP/s | MFU | peak allocated GiB '
             '| reserved GiB | formula (fp32 activations) GiB |',
             '|---' * 12 + '|']
    for name, run in sorted(runs.items(), key=lambda item: item[0][-3:] !=
                            '-cp'):
        lines.append(
            f"| {name} ({run['params'] / 1e9:.2f} B params) | {run['gpus']} "
            f"| {run['batch_per_gpu']} | {'yes' if run['with_cp'] else 'no'} "
            f"| {run['outcome']} | {_fmt(run['step_s'], '.3f')} "
            f"| {_fmt(run['images_per_s'], '.1f')} "
            f"| {_fmt(run['model_tflops'], '.0f')} "
            f"| {_fmt(run['mfu'], '.1%')} "
            f"| {_fmt(run['peak_allocated_gib'], '.1f')} "
            f"| {_fmt(run['peak_reserved_gib'], '.1f')} "
            f"| {_fmt(run['predicted_fp32_gib'], '.1f')} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    env = sub.add_parser('env', help='versions, GPU, matmul ceiling')
    env.add_argument('--json', required=True)
    env.add_argument('--matmul-n', type=int, default=8192)
    data = sub.add_parser('data', help='generate ImageNet-sized JPEGs')
    data.add_argument('folder')
    data.add_argument('count', type=int)
    summary = sub.add_parser('summary', help='tables of one script run')
    summary.add_argument('runs_dir')
    summary.add_argument('--json', default=None)
    summary.add_argument('--md', default=None)
    summary.add_argument('--quiet', action='store_true',
                         help='write the files only')
    args = parser.parse_args(argv)
    if args.command == 'env':
        result = environment(args.matmul_n)
        print(json.dumps(result, indent=2))
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    elif args.command == 'data':
        from pixpretrain.apis.analysis import benchmark
        benchmark.make_fake_jpegs(args.folder, args.count)
    else:
        results = summarise(collect(args.runs_dir))
        text = markdown(results)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(results, f, indent=2)
        if args.md:
            with open(args.md, 'w') as f:
                f.write(text + '\n')
        if not args.quiet:
            print(text)


if __name__ == '__main__':
    main()
