import math

import pytest
import torch

from pixpretrain.evaluation import knn_accuracy, knn_class_scores


def test_votes_are_temperature_weighted_cosine_similarities():
    # Bank on the unit circle; the query sits at angle 0.
    angles = torch.tensor([0.0, 0.5, 1.0, 3.0])
    bank = torch.stack([angles.cos(), angles.sin()], 1) * 3  # norm is ignored
    labels = torch.tensor([0, 1, 1, 0])
    query = torch.tensor([[2.0, 0.0]])
    scores = knn_class_scores(bank, labels, query, num_classes=3, k=3,
                              temperature=0.5)
    # The 3 nearest are angles 0, 0.5, 1.0: class 0 gets exp(cos 0 / T),
    # class 1 gets exp(cos .5 / T) + exp(cos 1 / T), class 2 nothing.
    expected = torch.tensor([[
        math.exp(1 / 0.5),
        math.exp(math.cos(0.5) / 0.5) + math.exp(math.cos(1.0) / 0.5),
        0.0,
    ]])
    torch.testing.assert_close(scores, expected)


def test_k_larger_than_bank_and_chunking_agree():
    generator = torch.Generator().manual_seed(0)
    bank = torch.randn(50, 8, generator=generator)
    labels = torch.randint(0, 4, (50,), generator=generator)
    queries = torch.randn(33, 8, generator=generator)
    whole = knn_class_scores(bank, labels, queries, 4, k=500)
    chunked = knn_class_scores(bank, labels, queries, 4, k=500, chunk_size=7)
    torch.testing.assert_close(whole, chunked)
    # With every bank item voting, each class total is the sum over its items.
    sims = torch.nn.functional.normalize(queries, dim=1) @ \
        torch.nn.functional.normalize(bank, dim=1).T
    manual = torch.stack(
        [(sims[:, labels == c] / 0.1).exp().sum(1) for c in range(4)], 1)
    torch.testing.assert_close(whole, manual)


def test_accuracy_on_separable_clusters_is_exact():
    centres = torch.eye(3)
    bank = centres.repeat_interleave(5, 0) + 0.01 * torch.randn(15, 3)
    labels = torch.arange(3).repeat_interleave(5)
    queries = centres.clone()
    assert knn_accuracy(bank, labels, queries, torch.tensor([0, 1, 2]),
                        3, k=5) == 100.0
    assert knn_accuracy(bank, labels, queries, torch.tensor([1, 2, 0]),
                        3, k=5) == 0.0


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match='labels'):
        knn_class_scores(torch.zeros(3, 2), torch.zeros(2), torch.zeros(1, 2), 2)
    with pytest.raises(ValueError, match='temperature'):
        knn_class_scores(torch.zeros(3, 2), torch.zeros(3), torch.zeros(1, 2),
                         2, temperature=0)
