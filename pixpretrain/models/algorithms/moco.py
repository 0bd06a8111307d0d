"""MoCo (He et al. 2020, "Momentum Contrast for Unsupervised Visual
Representation Learning"; Chen et al. 2020, "Improved Baselines with
Momentum Contrastive Learning", v2)."""
import copy
import itertools
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from mmengine.logging import MessageHub
from mmengine.structures import BaseDataElement
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (batch_shuffle, batch_unshuffle, ema_update_,
                     feature_width)
from .base import BasePretrainer

MOMENTUM_SCHEDULES = ('constant', 'cosine')


def cosine_momentum(base: float, step: int, total: int) -> float:
    """m rising from ``base`` to 1 over ``total`` steps (BYOL's schedule):
    m_t = 1 - (1 - base) * (cos(pi t / total) + 1) / 2."""
    return 1 - (1 - base) * (math.cos(math.pi * step / total) + 1) / 2


@MODELS.register_module()
class MoCo(BasePretrainer):
    """Queries from the encoder, keys from its momentum copy, InfoNCE
    against a queue of earlier keys.

    The key encoder (``momentum_encoder``: a copy of backbone and neck) never
    receives gradients; before each step it moves towards the query
    encoder, ``k <- m k + (1 - m) q`` for every parameter, and keeps its own
    batch-norm statistics. It is part of the model state, so checkpoints
    save it and resuming restores it, together with the head's queue.

    Args:
        backbone: Encoder config, e.g. :class:`ResNet`.
        neck: Projector config, e.g. :class:`NonLinearNeck`.
        head: :class:`MoCoQueueHead` config.
        momentum: m of the key encoder's update, in [0, 1] (0.999 in MoCo,
            0.99 in the CIFAR demo).
        momentum_schedule: 'constant', or 'cosine' (m rises from
            ``momentum`` to 1 over training, read from the Runner's
            iteration and ``max_iters``).
        shuffle_bn: Shuffle the key batch across ranks (locally on one
            device, where it matters with ``SplitBN``) so that batch norm
            cannot leak the positive pair.
        data_preprocessor: Config of the batch preprocessor.
        init_cfg: mmengine init config.
    """

    #: FSDP2 units of their own (see ``BasePretrainer.sharding_units``):
    #: the key encoder's weights change in place in every step.
    sharding_units = ('momentum_encoder.backbone', 'momentum_encoder.neck')

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 momentum: float = 0.999,
                 momentum_schedule: str = 'constant',
                 shuffle_bn: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(
                f'momentum must lie in [0, 1] (the weight of the old key '
                f'encoder, e.g. 0.999), got {momentum}')
        if momentum_schedule not in MOMENTUM_SCHEDULES:
            raise ConfigError(
                f'momentum_schedule must be one of {MOMENTUM_SCHEDULES}, '
                f'got {momentum_schedule!r}')
        super().__init__(backbone, neck, head, data_preprocessor, init_cfg)
        width = feature_width(self.backbone)
        if width is not None and self.neck.in_channels != width:
            raise bad_value('neck.in_channels', self.neck.in_channels,
                            f'must equal the backbone width (allowed: '
                            f'{width})')
        if self.neck.out_channels != self.head.feat_dim:
            raise bad_value('head.feat_dim', self.head.feat_dim,
                            'must equal neck.out_channels (allowed: '
                            f'{self.neck.out_channels})')
        self.base_momentum = momentum
        self.momentum_schedule = momentum_schedule
        self.shuffle_bn = shuffle_bn
        self.momentum_encoder = nn.ModuleDict(
            dict(backbone=copy.deepcopy(self.backbone),
                 neck=copy.deepcopy(self.neck)))
        self.momentum_encoder.requires_grad_(False)

    @classmethod
    def check_train_config(cls, cfg: Mapping[str, Any],
                           world_size: int) -> None:
        """Refuse a key queue (``model.head.queue_len``) shorter than one
        global batch.

        Every step enqueues the keys of the whole global batch, so a shorter
        queue would fail at the first step; the batch size lives in the data
        loader's config, out of the constructor's sight.

        Args:
            cfg: The whole training config.
            world_size: The number of training processes.

        Raises:
            ConfigError: Naming ``model.head.queue_len`` and the smallest
                allowed length.
        """
        head = (cfg.get('model') or {}).get('head')
        queue_len = head.get('queue_len') if isinstance(head, dict) else None
        batch_size = (cfg.get('train_dataloader') or {}).get('batch_size')
        if queue_len is None or batch_size is None:
            return
        global_batch = batch_size * world_size
        if queue_len < global_batch:
            raise bad_value(
                'model.head.queue_len', queue_len,
                'must hold at least one global batch of keys, '
                f'train_dataloader.batch_size x processes = {batch_size} x '
                f'{world_size} (allowed: queue_len >= {global_batch})')

    def _query_parameters(self) -> List[nn.Parameter]:
        return list(itertools.chain(self.backbone.parameters(),
                                    self.neck.parameters()))

    def init_weights(self) -> None:
        """Initialise (or load) the query encoder, then start the key
        encoder from the same weights."""
        super().init_weights()
        with torch.no_grad():
            for key, query in zip(self.momentum_encoder.parameters(),
                                  self._query_parameters()):
                key.copy_(query)

    def current_momentum(self) -> float:
        """m for this step: constant, or cosine over the Runner's iterations
        (RuntimeInfoHook writes ``iter`` and ``max_iters`` to the message
        hub, also when a run resumes)."""
        if self.momentum_schedule == 'constant':
            return self.base_momentum
        hub = MessageHub.get_current_instance()
        step, total = hub.get_info('iter'), hub.get_info('max_iters')
        if step is None or not total:
            raise RuntimeError(
                "momentum_schedule='cosine' reads 'iter' and 'max_iters' "
                "from mmengine's message hub, which a Runner's "
                'RuntimeInfoHook fills; set them with '
                'MessageHub.get_current_instance().update_info outside one')
        return cosine_momentum(self.base_momentum, step, total)

    @torch.no_grad()
    def momentum_update(self, momentum: float) -> None:
        """k <- m k + (1 - m) q for every key-encoder parameter."""
        ema_update_(self.momentum_encoder, self._query_parameters(),
                    momentum)

    @torch.no_grad()
    def encode_keys(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) key views -> (B, D) keys from the momentum encoder."""
        if self.shuffle_bn:
            images, unshuffle_index = batch_shuffle(images)
        keys = self.momentum_encoder['neck'](
            self.momentum_encoder['backbone'](images))
        if self.shuffle_bn:
            keys = batch_unshuffle(keys, unshuffle_index)
        return keys

    def loss(self, inputs: Sequence[torch.Tensor],
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        """Two views per image -> ``loss`` and the ``momentum`` used."""
        if isinstance(inputs, torch.Tensor) or len(inputs) != 2:
            got = ('one batch tensor' if isinstance(inputs, torch.Tensor)
                   else f'{len(inputs)} views')
            raise ConfigError(
                'MoCo needs two views of each image (a MultiView transform '
                f'with num_views=2 in the pipeline), got {got}')
        query_view, key_view = inputs
        query = self.neck(self.backbone(query_view))  # (B, D)
        momentum = self.current_momentum()
        self.momentum_update(momentum)
        key = self.encode_keys(key_view)  # (B, D)
        loss = self.head.loss(query, key)
        self.head.enqueue(key)
        return dict(loss=loss,
                    momentum=torch.tensor(momentum, device=query.device))

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None
                ) -> List[BaseDataElement]:
        """Per image: ``feature`` (C,), the pooled backbone output, and
        ``projection`` (D,), the neck's output, for a kNN monitor
        (:class:`pixpretrain.evaluation.KNNAccuracy`)."""
        features = self.backbone(inputs)
        pooled = self.neck.pool(features)  # (B, C)
        projection = self.neck(features)  # (B, D)
        samples = data_samples or [
            BaseDataElement() for _ in range(len(pooled))
        ]
        for sample, feature, proj in zip(samples, pooled, projection):
            sample.feature = feature
            sample.projection = proj
        return samples
