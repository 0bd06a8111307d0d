"""Features as rows read on demand: a standardised view of a group of
layers, and the streaming statistics it standardises with."""
from typing import Sequence, Tuple

import torch

from .store import chunks


class StandardisedRows:
    """Rows of a group of layers' features, standardised on the fly.

    Args:
        sources: L row sources of equal width D: (N, D) tensors or
            :class:`~.store.FeatureFile` s (indexed by an int tensor).
        rows: (n,) the source rows this view covers.
        mean: (L, D) per-feature means to subtract.
        std: (L, D) per-feature standard deviations to divide by.
    """

    def __init__(self, sources: Sequence, rows: torch.Tensor,
                 mean: torch.Tensor, std: torch.Tensor) -> None:
        self.sources, self.rows = list(sources), rows
        self.mean, self.std = mean[:, None], std[:, None]
        self.shape = (len(self.sources), len(rows), mean.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, positions: torch.Tensor) -> torch.Tensor:
        """(L, B, D) standardised features at ``positions`` of the view."""
        index = self.rows[positions]
        x = torch.stack([source[index].float() for source in self.sources])
        return (x - self.mean) / self.std


def feature_statistics(sources: Sequence, held_out: torch.Tensor,
                       chunk_size: int = 8192
                       ) -> Tuple[Tuple[torch.Tensor, torch.Tensor],
                                  Tuple[torch.Tensor, torch.Tensor]]:
    """Per-feature mean and (unbiased) std of the rows outside
    ``held_out`` and of all rows, in one streaming pass (float64 sums).

    Args:
        sources: L row sources of width D and length N.
        held_out: (N,) bool, the rows the first statistics leave out.

    Returns:
        ((mean, std) of the kept rows, (mean, std) of all rows), each
        (L, D) float32; std clamped to at least 1e-6.
    """
    L, (N, D) = len(sources), sources[0].shape
    sums = torch.zeros(2, L, 2, D, dtype=torch.float64)  # all / held out
    held_out = held_out.to(torch.float64)
    for rows in chunks(N, chunk_size):
        weight = torch.stack([torch.ones(rows.stop - rows.start),
                              held_out[rows]])               # (2, b)
        for i, source in enumerate(sources):
            x = source[rows].double()                        # (b, D)
            sums[0, i] += weight @ x
            sums[1, i] += weight @ x.square()
    counts = torch.tensor([N, N - float(held_out.sum())], dtype=torch.float64)
    total, square = sums[0], sums[1]
    kept = (total[:, 0] - total[:, 1], square[:, 0] - square[:, 1], counts[1])
    everything = (total[:, 0], square[:, 0], counts[0])

    def mean_std(total, square, n):
        mean = total / n
        var = (square - n * mean.square()).clamp_min(0) / max(n - 1, 1)
        return mean.float(), var.sqrt().float().clamp_min(1e-6)

    return mean_std(*kept), mean_std(*everything)
