"""Sharded data parallel training on torch's FSDP2, for mmengine's
``FlexibleRunner``.

mmengine 0.10.7's ``FSDPStrategy`` wraps the older ``FullyShardedDataParallel``
with ``device_id=LOCAL_RANK``, a CUDA device, so it cannot run on CPU ranks
(gloo). This strategy shards with ``torch.distributed.fsdp.fully_shard``
(FSDP2: every parameter a ``DTensor`` sharded along its first dimension over
the ranks), which runs on CPU and GPU alike, and keeps everything else
(building, logging, schedulers, hooks) of mmengine's ``DDPStrategy``.

Checkpoints hold the full, unsharded state (model and optimizer, keyed by
parameter name), gathered by every rank and written by rank 0 through the
same atomic save as a DDP run: one process loads them like any other
(``init_model``, the probe, converters).
"""
from typing import Callable, Optional

import torch
from mmengine._strategy import DDPStrategy
from mmengine.device import get_device
from mmengine.dist import is_main_process
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions, get_model_state_dict, get_optimizer_state_dict,
    set_model_state_dict, set_optimizer_state_dict)
from torch.distributed.fsdp import MixedPrecisionPolicy

from pixpretrain.registry import STRATEGIES
from pixpretrain.utils.errors import bad_value
from .grad_scaler import use_sharded_grad_scaler
from .sharding import shard_model

MIXED_PRECISION = {None: None, 'bf16': torch.bfloat16}
FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@STRATEGIES.register_module()
class FSDP2Strategy(DDPStrategy):
    """Shard parameters, gradients and optimizer state over the ranks.

    Config: ``strategy = dict(type='FSDP2Strategy', ...)`` with
    ``runner_type = 'FlexibleRunner'`` (``tools/train.py --strategy fsdp``
    sets both).

    Args:
        shard_blocks: Shard every block (:func:`.sharding.sharding_blocks`: our
            backbones' and a timm backbone's) as its own unit, besides the
            model's ``sharding_units`` and the root; a rank then holds the
            full weights of one block at a time, plus the root's
            (embeddings, stems, heads) for the step.
        reshard_after_forward: Free each unit's gathered weights after its
            forward and gather them again for backward (ZeRO-3); ``False``
            keeps them to the backward (ZeRO-2: more memory, less
            communication).
        mixed_precision: ``'bf16'``: compute in bfloat16, reduce gradients
            and keep weights and optimizer state in float32 (GPU only; on
            a CPU the run stays float32 and says so). ``None``: float32.
        **kwargs: :class:`mmengine._strategy.DDPStrategy`'s (``sync_bn``,
            and the runner's).
    """

    def __init__(self, *, shard_blocks: bool = True,
                 reshard_after_forward: bool = True,
                 mixed_precision: Optional[str] = None, **kwargs) -> None:
        if mixed_precision not in MIXED_PRECISION:
            raise bad_value('strategy.mixed_precision', mixed_precision,
                            "unknown (allowed: None, 'bf16')")
        super().__init__(**kwargs)
        self.shard_blocks = shard_blocks
        self.reshard_after_forward = reshard_after_forward
        self.mixed_precision = mixed_precision
        self._saving: Optional[dict] = None

    def _mp_policy(self) -> MixedPrecisionPolicy:
        dtype = MIXED_PRECISION[self.mixed_precision]
        if dtype is not None and get_device() == 'cpu':
            self.logger.warning(
                f"strategy.mixed_precision='{self.mixed_precision}' needs a "
                'GPU; training in float32 on the CPU')
            dtype = None
        if dtype is None:
            return MixedPrecisionPolicy()
        return MixedPrecisionPolicy(param_dtype=dtype,
                                    reduce_dtype=torch.float32)

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        """The model on this rank's device, SyncBN converted when asked,
        sharded by :func:`shard_model`."""
        model = self.convert_model(model.to(get_device()))
        return shard_model(model, self.shard_blocks,
                           self.reshard_after_forward, self._mp_policy())

    def build_optim_wrapper(self, optim_wrapper, model=None):
        """mmengine's build; an AMP wrapper's loss scaler is made to
        unscale sharded and replicated gradients apart
        (:func:`~.grad_scaler.use_sharded_grad_scaler`)."""
        built = super().build_optim_wrapper(optim_wrapper, model)
        use_sharded_grad_scaler(built)
        return built

    # Checkpoints: gathered by every rank, written by rank 0.

    def model_state_dict(self) -> dict:
        """The full model state on rank 0 (empty elsewhere); every rank must
        call it."""
        if self._saving is not None:
            return self._saving['model']
        return get_model_state_dict(self.model, options=FULL)

    def optim_state_dict(self) -> dict:
        """The full optimizer state keyed by parameter name, on rank 0;
        every rank must call it."""
        if self._saving is not None:
            return self._saving['optimizer']
        return get_optimizer_state_dict(self.model,
                                        self.optim_wrapper.optimizer,
                                        options=FULL)

    def save_checkpoint(self, filename: str, *, save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        extra_ckpt: Optional[dict] = None,
                        callback: Optional[Callable] = None) -> None:
        """Gather the full state on every rank; rank 0 writes it (the
        atomic local backend) with the schedulers and ``extra_ckpt``."""
        save_optimizer = save_optimizer and hasattr(self, 'optim_wrapper')
        gathered = dict(model=self.model_state_dict(),
                        optimizer=self.optim_state_dict()
                        if save_optimizer else None)
        if not is_main_process():
            return
        self._saving = gathered
        try:
            # SingleDeviceStrategy's save, under DDPStrategy's master_only.
            super(DDPStrategy, self).save_checkpoint(
                filename, save_optimizer=save_optimizer,
                save_param_scheduler=save_param_scheduler,
                extra_ckpt=extra_ckpt, callback=callback)
        finally:
            self._saving = None

    def load_model_state_dict(self, state_dict: dict, *,
                              strict: bool = False,
                              revise_keys: list = [(r'^module.', '')]
                              ) -> None:
        """Shard a full state dict (every rank read the file) into the
        model; ``revise_keys`` as mmengine's."""
        import re
        for pattern, replacement in revise_keys:
            state_dict = {re.sub(pattern, replacement, key): value
                          for key, value in state_dict.items()}
        set_model_state_dict(self.model, state_dict,
                             options=StateDictOptions(full_state_dict=True,
                                                      strict=strict))

    def load_optim_state_dict(self, state_dict: dict) -> None:
        """Shard a full optimizer state dict (keyed by parameter name)."""
        set_optimizer_state_dict(self.model, self.optim_wrapper.optimizer,
                                 state_dict,
                                 options=StateDictOptions(
                                     full_state_dict=True))
