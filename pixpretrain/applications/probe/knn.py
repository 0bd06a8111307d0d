"""The weighted kNN probe over a bank of any size, in chunks."""
import logging
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from pixpretrain.utils.errors import ConfigError
from .store import chunks


def check_knn_settings(ks: Sequence[int], temperature: float) -> None:
    """Refuse neighbour counts below 1 and a temperature not above 0
    (``--knn-k``, ``--knn-temperature``), before any work."""
    if not isinstance(ks, (list, tuple)) or not ks or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1
            for k in ks):
        raise ConfigError(f'knn_ks = {ks!r}: neighbour counts must be a '
                          'list of integers of 1 or more (--knn-k 20,200)')
    if not temperature > 0:
        raise ConfigError(f'knn_temperature = {temperature}: the votes\' '
                          'temperature must be above 0 (e.g. 0.07)')


def ks_for_bank(ks: Sequence[int], bank_size: int) -> List[int]:
    """The neighbour counts a bank of ``bank_size`` can give: each clipped
    to the bank, with a warning naming the count used, so a result is
    labelled with the k it was measured with."""
    used = sorted({min(k, bank_size) for k in ks})
    if any(k > bank_size for k in ks):
        print_log(f'kNN: k = {max(ks)} exceeds the {bank_size} training '
                  f'images; reporting k = {used} (give --knn-k at most '
                  f'{bank_size})', logger='current', level=logging.WARNING)
    return used


@torch.no_grad()
def knn_probe(train_features: Sequence,
              train_labels: torch.Tensor,
              test_features: Sequence,
              test_labels: torch.Tensor,
              num_classes: int,
              ks: Sequence[int] = (20, 200),
              temperature: float = 0.07,
              query_chunk: int = 2048,
              bank_chunk: int = 8192) -> List[Dict[int, float]]:
    """Per layer, test accuracy (%) of the weighted kNN for each k.

    Cosine similarity to the training features; each neighbour votes for
    its class with ``exp(similarity / temperature)`` (Wu et al. 2018), the
    rule of :func:`pixpretrain.evaluation.functional.knn_class_scores`.
    The bank is read ``bank_chunk`` rows at a time and each chunk's
    nearest neighbours are merged into the running top-k, so memory is
    ``query_chunk x (bank_chunk + 2 max(ks))`` whatever the bank's size.

    Args:
        train_features: Per layer, the (N, D) bank: tensors or
            :class:`~.store.FeatureFile` s.
        train_labels: (N,) labels of the bank.
        test_features: Per layer, (M, D) queries.
        test_labels: (M,) their labels.
        num_classes: C.
        ks: Neighbour counts (each clipped to N).
        temperature: Vote temperature.
        query_chunk: Queries scored at once.
        bank_chunk: Bank rows read at once.
    """
    n, m = train_labels.shape[0], test_labels.shape[0]
    most = min(max(ks), n)
    train_labels = train_labels.long()
    results = []
    for bank, queries in zip(train_features, test_features):
        correct = dict.fromkeys(ks, 0)
        for q in chunks(m, query_chunk):
            query = F.normalize(queries[q].float(), dim=1)
            top_sim = query.new_empty(len(query), 0)
            top_idx = torch.empty(len(query), 0, dtype=torch.long)
            for b in chunks(n, bank_chunk):
                similarity = query @ F.normalize(bank[b].float(), dim=1).T
                sim, idx = similarity.topk(min(most, b.stop - b.start),
                                           dim=1)
                sim = torch.cat([top_sim, sim], dim=1)
                idx = torch.cat([top_idx, idx + b.start], dim=1)
                top_sim, order = sim.topk(min(most, sim.shape[1]), dim=1)
                top_idx = idx.gather(1, order)
            neighbour_labels = train_labels[top_idx]             # (q, most)
            for k in ks:
                weights = (top_sim[:, :k] / temperature).exp()
                votes = weights.new_zeros(len(query), num_classes)
                votes.scatter_add_(1, neighbour_labels[:, :k], weights)
                correct[k] += int((votes.argmax(1) ==
                                   test_labels[q].long()).sum())
        results.append({k: 100.0 * correct[k] / m for k in ks})
    return results
