"""Fitting the byte-level BPE: the trainers of several pixpretrain trees,
side by side in one run, on the same captions.

Made to decide whether Hugging Face's ``tokenizers`` should replace the own
trainer (docs/benchmarks.md, "Fitting the BPE"): this checkout against a
copy with ``benchmarks/results/bpe_fit_tokenizers.diff`` applied, which
trains with ``tokenizers.trainers.BpeTrainer`` and keeps the id layout.
Each tree runs in a child process with its root on ``PYTHONPATH``; the
script prints the wall and CPU seconds per fit (best of ``--repeats``
rounds, the trees alternating; CPU time is the steadier figure on a shared
machine) and whether the
merges are identical, and writes the figures as JSON.

    cp -r . /tmp/with_tokenizers && cd /tmp/with_tokenizers && \
        git apply benchmarks/results/bpe_fit_tokenizers.diff && cd -
    python benchmarks/bpe_fit.py . /tmp/with_tokenizers --merges 2000 8000

The captions: comment lines of four words or more from Python's standard
library (``--corpus`` to give a text file, one caption per line).
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import sysconfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = '''
import json, sys, time
from pixpretrain.datasets.bpe import fit_bpe_merges
texts = open(sys.argv[1], encoding='utf-8').read().split('\\n')
wall, cpu = time.perf_counter(), time.process_time()
merges = fit_bpe_merges(texts, 259 + int(sys.argv[2]))
# process_time counts every thread (tokenizers trains on several)
print(json.dumps(dict(seconds=time.perf_counter() - wall,
                      cpu_seconds=time.process_time() - cpu,
                      merges=[list(m) for m in merges])))
'''


def stdlib_comments(path: str) -> str:
    lines = []
    stdlib = sysconfig.get_paths()['stdlib']
    for name in sorted(glob.glob(f'{stdlib}/**/*.py', recursive=True)):
        if 'site-packages' in name:
            continue
        with open(name, encoding='utf-8', errors='ignore') as f:
            for line in f:
                text = line.strip()
                if text.startswith('#'):
                    text = text.lstrip('# ').strip()
                    if len(text.split()) >= 4:
                        lines.append(text)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('trees', nargs='+', help='pixpretrain source roots')
    parser.add_argument('--merges', type=int, nargs='+', default=[2000])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--corpus', default=None)
    parser.add_argument('--out', default=os.path.join(
        REPO, 'benchmarks', 'results', 'bpe_fit.json'))
    args = parser.parse_args(argv)
    corpus = args.corpus or stdlib_comments('/tmp/bpe_fit_corpus.txt')
    with open(corpus, encoding='utf-8') as f:
        num_captions = len(f.read().split('\n'))
    rows = []
    for merges in args.merges:
        runs = {tree: [] for tree in args.trees}
        # Rounds alternate the trees, so that load from other jobs on a
        # shared machine falls on both alike.
        for _ in range(args.repeats):
            for tree in args.trees:
                env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
                out = subprocess.run(
                    [sys.executable, '-c', CHILD, corpus, str(merges)],
                    env=env, check=True, capture_output=True,
                    text=True).stdout
                runs[tree].append(json.loads(out.strip().splitlines()[-1]))
        digests = set()
        for tree, results in runs.items():
            digest = hashlib.sha256(json.dumps(
                results[0]['merges']).encode()).hexdigest()[:12]
            digests.add(digest)
            seconds = [r['seconds'] for r in results]
            cpu = [r['cpu_seconds'] for r in results]
            rows.append(dict(tree=tree, merges=merges,
                             learned=len(results[0]['merges']),
                             seconds=min(seconds), cpu_seconds=min(cpu),
                             runs=seconds, cpu_runs=cpu, digest=digest))
            print(f'{tree}: {merges} merges ({len(results[0]["merges"])} '
                  f'learned) in {min(seconds):.2f} s wall, {min(cpu):.2f} '
                  f's CPU (best of {len(seconds)}), merges sha256 '
                  f'{digest}')
        print(f'identical merges: {len(digests) == 1}')
    with open(args.out, 'w') as f:
        json.dump(dict(captions=num_captions, cpus=os.cpu_count(),
                       rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
