"""MoCo's contrastive head: InfoNCE against a queue of earlier keys."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import concat_all_gather


@MODELS.register_module()
class MoCoQueueHead(BaseModule):
    """InfoNCE over [positive key | queue], and the queue of keys itself.

    For a query q with positive key k+ and queued keys k_1 .. k_K, all L2
    normalised (He et al. 2020, Eq. 1):

        loss = -log(exp(q·k+ / T) / (exp(q·k+ / T) + sum_j exp(q·k_j / T)))

    The queue and its write pointer are buffers, so they are saved and
    resumed with the model. :meth:`enqueue` writes the keys of every rank,
    so all ranks hold the same queue; the pointer wraps around, so the
    queue length need not be a multiple of the global batch.

    Args:
        feat_dim: Width D of queries and keys (the neck's output).
        queue_len: Number K of keys in the queue (65,536 in MoCo v2); at
            least the global batch.
        temperature: T (0.2 in MoCo v2, 0.1 in the CIFAR demo).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 feat_dim: int = 128,
                 queue_len: int = 65536,
                 temperature: float = 0.2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if feat_dim < 1:
            raise ConfigError(f'head.feat_dim must be >= 1, got {feat_dim}')
        if queue_len < 1:
            raise bad_value('head.queue_len', queue_len,
                            'must hold at least one global batch of keys '
                            '(allowed: >= the global batch size)')
        if not temperature > 0:
            raise ConfigError(
                f'head.temperature must be > 0, got {temperature}')
        self.feat_dim = feat_dim
        self.queue_len = queue_len
        self.temperature = temperature
        self.register_buffer(
            'queue', F.normalize(torch.randn(queue_len, feat_dim), dim=1))
        self.register_buffer('queue_ptr', torch.zeros((), dtype=torch.long))

    def loss(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """Mean InfoNCE of the queries.

        Args:
            query: (B, D) query projections; normalised here.
            key: (B, D) positive keys, without gradient; normalised here.

        Returns:
            Scalar loss.
        """
        q = F.normalize(query, dim=1)
        k = F.normalize(key, dim=1)
        positive = (q * k).sum(dim=1, keepdim=True)  # (B, 1)
        # A copy: enqueue() overwrites the queue before backward needs it.
        negative = q @ self.queue.clone().T  # (B, K)
        logits = torch.cat([positive, negative], dim=1)  # (B, 1 + K)
        # The softmax in at least float32, also under bf16 / fp16 autocast.
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
        return F.cross_entropy(logits / self.temperature, labels)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Replace the oldest entries with the keys of all ranks.

        Args:
            keys: (B, D) this rank's keys; every rank passes the same B.
        """
        keys = F.normalize(concat_all_gather(keys), dim=1)  # (world × B, D)
        count = keys.shape[0]
        if count > self.queue_len:
            raise bad_value('head.queue_len', self.queue_len,
                            f'must hold at least one global batch of keys, '
                            f'{count} per step (allowed: >= {count})')
        slots = (self.queue_ptr + torch.arange(
            count, device=keys.device)) % self.queue_len
        self.queue[slots] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + count) % self.queue_len)
