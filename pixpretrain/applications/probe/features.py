"""Pooled features of many layers in one pass over a data set, written
shard by shard into the on-disk cache (:mod:`.store`)."""
import hashlib
from typing import Sequence

import torch
from mmengine.dataset import default_collate
from mmengine.dist import barrier, get_dist_info, init_dist
from mmengine.logging import print_log
from torch.utils.data import DataLoader, Dataset

from pixpretrain.apis.inference import extract_features
from pixpretrain.apis.runner import init_cpu_process_group
from pixpretrain.utils.progress import progress_bar
from .store import FeatureCache


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def init_distributed(launcher: str, device: str) -> None:
    """Join the job torchrun or slurm started (``launcher`` 'pytorch' or
    'slurm'; 'none' does nothing): nccl on GPUs, gloo on CPU."""
    if launcher == 'none':
        return
    if device.startswith('cuda'):
        init_dist(launcher, backend='nccl')
    else:  # even on a machine with a GPU, which --device cpu leaves alone
        init_cpu_process_group(launcher)


@torch.no_grad()
def extract_to_cache(model: torch.nn.Module,
                     dataset: Dataset,
                     layers: Sequence[int],
                     keys: Sequence[str],
                     cache: FeatureCache,
                     pool: str = 'avg',
                     batch_size: int = 256,
                     num_workers: int = 2,
                     device: str = 'cpu',
                     progress: bool = True) -> int:
    """Write every image's pooled features at ``layers`` into the cache
    entries ``keys`` (one per layer), shard by shard.

    Shard ``i`` holds images ``i * shard_size`` onwards and is extracted in
    the same batches whichever process takes it; under ``torch.distributed``
    rank ``r`` of ``w`` takes the shards ``i % w == r``, so the files are
    the same for any number of ranks. Shards already marked done (an
    interrupted run) are skipped. Every rank returns once all shards are
    written.

    Args:
        model: See :func:`pixpretrain.apis.extract_features`.
        dataset: Yields ``PackInputs`` dicts with ``gt_label``.
        layers: Block / stage indices.
        keys: The cache entry of each layer.
        cache: Where the entries live.
        pool: 'avg' or 'cls'.
        batch_size: Images per forward pass.
        num_workers: Data loader processes.
        device: Where the model runs.
        progress: Show a progress bar (rank 0).

    Returns:
        The number of images this process extracted.
    """
    rank, world_size = get_dist_info()
    if rank == 0:  # the entries' widths, from one image
        first = default_collate([dataset[0]])['inputs'].to(device)
        widths = [f.shape[-1] for f in extract_features(model, first,
                                                        layers, pool)]
        shard_size = cache.shard_size_for(keys, len(dataset))
        for key, width in zip(keys, widths):
            cache.create(key, len(dataset), width, shard_size)
    barrier()
    shard_size = cache.meta(keys[0])['shard_size']
    done = set.intersection(*(set(cache.done_shards(k)) for k in keys))
    shards = [i for i in range(-(-len(dataset) // shard_size))
              if i % world_size == rank and i not in done]
    ranges = [range(i * shard_size, min((i + 1) * shard_size, len(dataset)))
              for i in shards]
    total = sum(len(r) for r in ranges)
    if done and rank == 0:
        print_log(f'resuming: {len(done)} shards of {shard_size} images '
                  'already in the cache', logger='current')
    # Counted in images, not batches: the ETA stays right for a short last
    # batch. `with` closes the bar (its final line) on errors too.
    with progress_bar(total=total, desc='extracting features', unit='img',
                      disable=None if progress else True) as bar:
        # One loader for all of this rank's shards (its workers start
        # once); no batch crosses a shard's end.
        batches = [range(start, min(start + batch_size, rows.stop))
                   for rows in ranges
                   for start in range(rows.start, rows.stop, batch_size)]
        ends = {rows.stop: shard for shard, rows in zip(shards, ranges)}
        loader = DataLoader(dataset, batch_sampler=batches,
                            num_workers=num_workers,
                            collate_fn=default_collate)
        for indices, batch in zip(batches, loader):
            features = extract_features(model, batch['inputs'].to(device),
                                        layers, pool)
            labels = torch.stack(
                [s.gt_label for s in batch['data_samples']]).view(-1)
            for key, feature in zip(keys, features):
                cache.write_rows(key, indices[0], feature.cpu(), labels)
            bar.update(len(labels))
            if indices[-1] + 1 in ends:
                for key in keys:
                    cache.mark_done(key, ends[indices[-1] + 1])
    barrier()
    return total
