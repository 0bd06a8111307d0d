"""Weighted k-nearest-neighbour classification on features.

The protocol of Wu et al. (2018, "Unsupervised Feature Learning via
Non-Parametric Instance Discrimination") that the MoCo CIFAR demo and most
self-supervised papers use as a cheap monitor: cosine similarity to a bank
of labelled training features, and each of the k nearest neighbours votes
for its class with weight ``exp(similarity / temperature)``.
"""
import torch
import torch.nn.functional as F


def knn_class_scores(bank_features: torch.Tensor,
                     bank_labels: torch.Tensor,
                     query_features: torch.Tensor,
                     num_classes: int,
                     k: int = 200,
                     temperature: float = 0.1,
                     chunk_size: int = 1024) -> torch.Tensor:
    """Class scores of each query from its k nearest bank features.

    Args:
        bank_features: (N, D) labelled features; normalised here.
        bank_labels: (N,) integer labels in ``[0, num_classes)``.
        query_features: (M, D) features to classify; normalised here.
        num_classes: number of classes C.
        k: neighbours per query; clipped to N.
        temperature: vote weight is ``exp(cos_sim / temperature)``.
        chunk_size: queries per similarity block, bounding memory to
            ``chunk_size × N``.

    Returns:
        (M, C) summed vote weights; ``argmax`` gives the prediction.
    """
    if bank_features.shape[0] != bank_labels.shape[0]:
        raise ValueError(
            f'{bank_features.shape[0]} bank features but '
            f'{bank_labels.shape[0]} labels')
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    bank = F.normalize(bank_features.float(), dim=1)
    labels = bank_labels.long().to(bank.device)
    k = min(k, bank.shape[0])
    scores = []
    for queries in query_features.float().split(chunk_size):
        queries = F.normalize(queries.to(bank.device), dim=1)
        similarity = queries @ bank.T                      # (m, N)
        top_sim, top_idx = similarity.topk(k, dim=1)       # (m, k)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(queries.shape[0], num_classes,
                            device=bank.device, dtype=weights.dtype)
        votes.scatter_add_(1, labels[top_idx], weights)   # (m, C)
        scores.append(votes)
    return torch.cat(scores) if scores else bank.new_zeros(0, num_classes)


def knn_accuracy(bank_features: torch.Tensor,
                 bank_labels: torch.Tensor,
                 query_features: torch.Tensor,
                 query_labels: torch.Tensor,
                 num_classes: int,
                 k: int = 200,
                 temperature: float = 0.1) -> float:
    """Top-1 accuracy in percent of :func:`knn_class_scores`."""
    if query_features.shape[0] == 0:
        raise ValueError('no query features to classify')
    scores = knn_class_scores(bank_features, bank_labels, query_features,
                              num_classes, k, temperature)
    correct = scores.argmax(1).cpu() == query_labels.long().cpu()
    return 100.0 * correct.float().mean().item()
