"""Pooled features of many layers in one pass over a data set, cached."""
import hashlib
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader, Dataset

from pixpretrain.apis.inference import extract_features
from pixpretrain.utils.checkpoint import safe_load
from pixpretrain.utils.fileio import torch_save_atomic
from pixpretrain.utils.progress import progress_bar


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


class FeatureCache:
    """One file per (weights, model, layer, pooling, data, split,
    transform): ``<root>/<sha256 of those>.pt`` holding ``features`` (N, D)
    and ``labels`` (N,).

    Args:
        root: Folder of the cache; created on the first save.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    @staticmethod
    def key(**parts) -> str:
        """A stable name for the given key parts (JSON-serialisable)."""
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, key: str) -> str:
        return osp.join(self.root, f'{key}.pt')

    def load(self, key: str) -> Optional[Dict[str, torch.Tensor]]:
        """The cached tensors, or None when absent."""
        path = self.path(key)
        return safe_load(path, map_location='cpu') if osp.isfile(path) \
            else None

    def save(self, key: str, tensors: Dict[str, torch.Tensor]) -> None:
        """Write atomically, so an interrupted run leaves no half file."""
        torch_save_atomic(tensors, self.path(key))


@torch.no_grad()
def extract_dataset_features(
        model: torch.nn.Module,
        dataset: Dataset,
        layers: Sequence[int],
        pool: str = 'avg',
        batch_size: int = 256,
        num_workers: int = 2,
        device: str = 'cpu',
        progress: bool = True) -> Tuple[List[torch.Tensor], torch.Tensor]:
    """Every image's pooled features at ``layers``, in one pass.

    Args:
        model: See :func:`pixpretrain.apis.extract_features`.
        dataset: Yields ``PackInputs`` dicts with ``gt_label``.
        layers: Block / stage indices.
        pool: 'avg' or 'cls'.
        batch_size: Images per forward pass.
        num_workers: Data loader processes.
        device: Where the model runs.
        progress: Show a progress bar.

    Returns:
        One (N, D_l) float32 CPU tensor per layer, and the (N,) labels.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers,
                        collate_fn=default_collate)
    chunks: List[List[torch.Tensor]] = [[] for _ in layers]
    labels = []
    # Counted in images, not batches: the ETA stays right for a short last
    # batch. `with` closes the bar (its final line) on errors too.
    with progress_bar(total=len(dataset), desc='extracting features',
                      unit='img', disable=None if progress else True) as bar:
        for batch in loader:
            features = extract_features(model, batch['inputs'].to(device),
                                        layers, pool)
            for store, feature in zip(chunks, features):
                store.append(feature.cpu())
            labels.append(
                torch.stack([s.gt_label for s in batch['data_samples']]))
            bar.update(len(labels[-1]))
    return [torch.cat(store) for store in chunks], torch.cat(labels)
