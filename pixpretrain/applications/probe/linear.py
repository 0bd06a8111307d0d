"""Linear classifiers for many layers and weight decays, trained at once.

Every (layer, weight decay) pair is its own multinomial logistic
regression on standardised features. They share one optimisation: the
summed loss separates into the pairs' losses, and Adam's update of each
weight depends on that weight's gradient only, so training them together
gives each exactly what training it alone would.

Features are read row by row from their sources (the memory-mapped cache,
or tensors): the statistics in one streaming pass, each mini-batch
gathered when it is needed, so memory does not grow with N.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import torch

from pixpretrain.utils.errors import ConfigError
from .rows import StandardisedRows, feature_statistics

#: L2 penalties swept on the held-out part of the training split.
DEFAULT_WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2)


@dataclass
class LinearProbeResult:
    """One layer's probe: the weight decay chosen on the held-out split,
    its held-out accuracy, and the test accuracy after refitting on the
    whole training split (accuracies in %)."""
    weight_decay: float
    val_accuracy: float
    test_accuracy: float
    val_by_weight_decay: Dict[float, float] = field(default_factory=dict)


def train_softmax_classifiers(features: StandardisedRows,
                              labels: torch.Tensor,
                              weight_decays: torch.Tensor, num_classes: int,
                              epochs: int = 20, batch_size: int = 256,
                              lr: float = 1e-2, seed: int = 0
                              ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Fit L x W logistic regressions with mini-batch Adam, cosine lr.

    Pair (l, w) minimises ``mean CE(x_l W_lw + b_lw, y) + wd_lw / 2 *
    ||W_lw||^2`` over the training features of layer l. Each step gathers
    its mini-batch from the sources, so only (L, batch, D) is in memory.

    Args:
        features: (L, N, D) standardised features.
        labels: (N,) class indices.
        weight_decays: (L, W) L2 penalties.
        num_classes: C.
        epochs: Passes over the N samples.
        batch_size: Samples per step.
        lr: Adam's peak learning rate.
        seed: Seed of the batch order.

    Returns:
        Weights (L, W, D, C) and biases (L, W, C).
    """
    L, N, D = features.shape
    W = weight_decays.shape[1]
    # Pairs side by side in one (L, D, W * C) matrix per layer: one batched
    # matmul scores a batch for every weight decay at once.
    weight = torch.zeros(L, D, W * num_classes, requires_grad=True)
    bias = torch.zeros(L, 1, W * num_classes, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr)
    steps_per_epoch = -(-N // batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    # wd / 2 per column: (L, 1, W * C)
    decay = weight_decays.float().repeat_interleave(
        num_classes, dim=1)[:, None] / 2
    for _ in range(epochs):
        for idx in torch.randperm(N, generator=generator).split(batch_size):
            x = features.take(idx)                              # (L, B, D)
            logits = torch.baddbmm(bias, x, weight).view(
                L, len(idx), W, num_classes)                   # (L, B, W, C)
            target = labels[idx].view(1, -1, 1, 1).expand(L, -1, W, 1)
            log_p = logits.log_softmax(-1).gather(-1, target)   # (L, B, W, 1)
            loss = -log_p.sum() / len(idx) + (decay * weight.pow(2)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    weight = weight.detach().view(L, D, W, num_classes).permute(0, 2, 1, 3)
    return weight, bias.detach().view(L, W, num_classes)


@torch.no_grad()
def classifier_accuracy(features: StandardisedRows, labels: torch.Tensor,
                        weight: torch.Tensor, bias: torch.Tensor,
                        chunk_size: int = 4096) -> torch.Tensor:
    """(L, W) accuracies in % of (L, W, D, C) classifiers on (L, N, D)."""
    correct = torch.zeros(weight.shape[:2])
    for positions in torch.arange(len(features)).split(chunk_size):
        x, y = features.take(positions), labels[positions]
        logits = torch.einsum('lbd,lwdc->lwbc', x, weight) + bias[:, :, None]
        correct += (logits.argmax(-1) == y).sum(-1)
    return 100.0 * correct / labels.shape[0]


def linear_probe(train_features: Sequence[torch.Tensor],
                 train_labels: torch.Tensor,
                 test_features: Sequence[torch.Tensor],
                 test_labels: torch.Tensor,
                 num_classes: int,
                 weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS,
                 epochs: int = 20,
                 batch_size: int = 256,
                 lr: float = 1e-2,
                 val_fraction: float = 0.2,
                 seed: int = 0) -> List[LinearProbeResult]:
    """Test accuracy of a linear classifier on each layer's features.

    1. Hold out ``val_fraction`` of the training split; fit every (layer,
       weight decay) on the rest and pick each layer's best weight decay.
    2. Refit each layer with its weight decay on the whole training split
       and score it on the test split.

    Features are standardised with the statistics of the samples each fit
    trains on. Layers of different widths are fitted in one group per
    width.

    Args:
        train_features: One (N, D_l) row source per layer: a tensor or a
            :class:`~.store.FeatureFile`.
        train_labels: (N,) class indices.
        test_features: One (M, D_l) row source per layer.
        test_labels: (M,) class indices.
        num_classes: C.
        weight_decays: L2 penalties to choose from.
        epochs, batch_size, lr: See :func:`train_softmax_classifiers`.
        val_fraction: Share of the training split held out, in (0, 1).
        seed: Seed of the split and the batch order.

    Returns:
        One :class:`LinearProbeResult` per layer, in order.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(
            f'val_fraction must lie in (0, 1), got {val_fraction}')
    if not weight_decays or min(weight_decays) < 0:
        raise ConfigError('weight_decays must be a non-empty list of '
                          f'values >= 0, got {list(weight_decays)}')
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f'epochs ({epochs}) and batch_size ({batch_size}) '
                          'must be >= 1')
    n = train_labels.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(n * val_fraction)))
    val_idx, fit_idx = order[:n_val], order[n_val:]
    fit_kwargs = dict(num_classes=num_classes, epochs=epochs,
                      batch_size=batch_size, lr=lr, seed=seed)

    results: List[LinearProbeResult] = [None] * len(train_features)
    by_width: Dict[int, List[int]] = {}
    for i, feature in enumerate(train_features):
        by_width.setdefault(feature.shape[1], []).append(i)
    held_out = torch.zeros(n, dtype=torch.bool)
    held_out[val_idx] = True
    every = torch.arange(n)
    for group in by_width.values():
        train = [train_features[i] for i in group]
        test = [test_features[i] for i in group]
        L = len(group)

        (fit_mean, fit_std), (mean, std) = feature_statistics(train, held_out)
        fit = StandardisedRows(train, fit_idx, fit_mean, fit_std)
        val = StandardisedRows(train, val_idx, fit_mean, fit_std)
        sweep = torch.tensor(weight_decays, dtype=torch.float32)
        weight, bias = train_softmax_classifiers(
            fit, train_labels[fit_idx], sweep.expand(L, -1), **fit_kwargs)
        val_acc = classifier_accuracy(val, train_labels[val_idx], weight,
                                      bias)                     # (L, W)
        best = val_acc.argmax(dim=1)                            # (L,)

        full = StandardisedRows(train, every, mean, std)
        held_out_test = StandardisedRows(
            test, torch.arange(test_labels.shape[0]), mean, std)
        weight, bias = train_softmax_classifiers(
            full, train_labels, sweep[best][:, None], **fit_kwargs)
        test_acc = classifier_accuracy(held_out_test, test_labels, weight,
                                       bias)
        for row, i in enumerate(group):
            results[i] = LinearProbeResult(
                weight_decay=float(weight_decays[int(best[row])]),
                val_accuracy=float(val_acc[row, best[row]]),
                test_accuracy=float(test_acc[row, 0]),
                val_by_weight_decay={
                    float(wd): float(acc)
                    for wd, acc in zip(weight_decays, val_acc[row])
                })
    return results
