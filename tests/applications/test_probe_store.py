"""The probe's on-disk features: float16 shards, resumed after a kill,
the same from one rank or two; streaming statistics and chunked kNN
against their in-memory references."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pixpretrain.applications.probe import (FeatureCache, feature_statistics,
                                            knn_probe)
from pixpretrain.evaluation.functional import knn_accuracy
from pixpretrain.utils.errors import BadDataError, ConfigError

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')

EXTRACT = f'''
import os, signal, sys
import torch
from pixpretrain.applications.probe import (
    FeatureCache, build_probe_model, build_probe_splits, extract_to_cache)
model, _ = build_probe_model({TINY!r})
train, _, _ = build_probe_splits('shapes', (32, 32), train_samples=40,
                                 test_samples=4)
kill_at = int(sys.argv[2])

class KilledAt(torch.utils.data.Dataset):
    def __len__(self):
        return len(train)

    def __getitem__(self, index):
        if index == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return train[index]

print(extract_to_cache(model, KilledAt(), [0, 1], ['a', 'b'],
                       FeatureCache(sys.argv[1], shard_size=8),
                       batch_size=4, num_workers=0, progress=False))
'''


def run(*args, **env):
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True,
        timeout=600, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1',
                 **env))


def tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_a_killed_extraction_resumes_to_the_same_cache(tmp_path):
    script = tmp_path / 'extract.py'
    script.write_text(EXTRACT)
    whole = run(script, tmp_path / 'whole', -1)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert whole.stdout.split()[-1] == '40'

    # Killed while reading image 21, in the third shard of 8.
    killed = run(script, tmp_path / 'resumed', 21)
    assert killed.returncode == -9
    cache = FeatureCache(str(tmp_path / 'resumed'))
    assert cache.done_shards('a') == [0, 1] and not cache.is_complete('a')
    resumed = run(script, tmp_path / 'resumed', -1)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.split()[-1] == '24'   # shards 2, 3 and 4 only
    assert cache.is_complete('a') and cache.is_complete('b')
    assert tree(tmp_path / 'resumed') == tree(tmp_path / 'whole')


@pytest.mark.distributed
def test_two_ranks_write_the_cache_one_rank_writes(tmp_path):
    common = [TINY, '--data', 'shapes', '--train-samples', '40',
              '--test-samples', '20', '--shard-size', '8', '--batch-size',
              '4', '--method', 'both', '--epochs', '2', '--knn-k', '3',
              '--num-workers', '0', '--device', 'cpu']
    tool = REPO / 'tools' / 'analysis' / 'probe.py'
    two = run('-m', 'torch.distributed.run', '--nproc_per_node=2',
              '--standalone', tool, *common, '--launcher', 'pytorch',
              '--cache-dir', tmp_path / 'two', '--out', tmp_path / 'out2')
    assert two.returncode == 0, two.stderr[-3000:]
    one = run(tool, *common, '--cache-dir', tmp_path / 'one', '--out',
              tmp_path / 'out1')
    assert one.returncode == 0, one.stderr[-3000:]
    cached = tree(tmp_path / 'one')
    assert sum(name.endswith('features.npy') for name in cached) == 4
    assert tree(tmp_path / 'two') == cached
    reports = [json.loads((tmp_path / f'out{n}' / 'results.json')
                          .read_text()) for n in (1, 2)]
    assert reports[0]['models']['random-init']['layers'] == \
        reports[1]['models']['random-init']['layers']


def test_features_are_stored_in_half_precision(tmp_path):
    cache = FeatureCache(str(tmp_path), shard_size=3)
    features = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    cache.create('k', 5, 4, cache.shard_size_for(['k'], 5))
    cache.write_rows('k', 0, features[:3], torch.arange(3))
    cache.mark_done('k', 0)
    assert not cache.is_complete('k')
    cache.write_rows('k', 3, features[3:], torch.arange(3, 5))
    cache.mark_done('k', 1)
    assert cache.is_complete('k')
    stored = cache.open('k')
    assert stored.array.dtype == 'float16'
    assert torch.equal(stored[torch.tensor([4, 0])],
                       features[[4, 0]].half().float())
    with pytest.raises(IndexError, match='row 5 of 5'):
        stored[torch.tensor([5])]
    stored.release()   # the pages go back; the rows stay readable
    assert torch.equal(stored[1:3], features[1:3].half().float())
    assert torch.equal(cache.labels('k'), torch.arange(5))
    with pytest.raises(BadDataError, match='float16'):
        cache.write_rows('k', 0, torch.full((1, 4), 1e5), torch.zeros(1))


def test_streaming_statistics_match_torch():
    x = torch.randn(50, 3, dtype=torch.float64) * 3 + 7
    held_out = torch.zeros(50, dtype=torch.bool)
    held_out[::4] = True
    (kept_mean, kept_std), (mean, std) = feature_statistics(
        [x.float()], held_out, chunk_size=7)
    kept = x[~held_out]
    torch.testing.assert_close(kept_mean[0], kept.mean(0).float())
    torch.testing.assert_close(kept_std[0], kept.std(0).float())
    torch.testing.assert_close(mean[0], x.mean(0).float())
    torch.testing.assert_close(std[0], x.std(0).float())


def test_chunked_knn_equals_the_whole_bank_knn():
    generator = torch.Generator().manual_seed(0)
    bank = torch.randn(300, 16, generator=generator)
    bank_labels = torch.randint(0, 5, (300, ), generator=generator)
    queries = torch.randn(70, 16, generator=generator)
    query_labels = torch.randint(0, 5, (70, ), generator=generator)
    (chunked, ) = knn_probe([bank], bank_labels, [queries], query_labels, 5,
                            ks=(1, 7, 50), temperature=0.1, query_chunk=16,
                            bank_chunk=37)
    for k in (1, 7, 50):
        assert chunked[k] == pytest.approx(knn_accuracy(
            bank, bank_labels, queries, query_labels, 5, k=k,
            temperature=0.1))


def test_a_continued_entry_keeps_its_shard_size(tmp_path):
    cache = FeatureCache(str(tmp_path), shard_size=3)
    cache.create('old', 5, 4, 3)
    cache.mark_done('old', 0)
    # Asked again with another size: the entry's own size wins, so its
    # finished shard is kept; a new entry beside it follows the old one.
    other = FeatureCache(str(tmp_path), shard_size=2)
    size = other.shard_size_for(['new', 'old'], 5)
    assert size == 3
    other.create('old', 5, 4, size)
    assert other.done_shards('old') == [0]
    assert other.create('new', 5, 8, size)['num_shards'] == 2
    assert other.shard_size_for(['new'], 7) == 2  # another length: new


@pytest.mark.parametrize('shard_size', [0, -4])
def test_a_shard_size_below_one_is_refused(tmp_path, shard_size):
    with pytest.raises(ConfigError, match='shard_size'):
        FeatureCache(str(tmp_path), shard_size=shard_size)
