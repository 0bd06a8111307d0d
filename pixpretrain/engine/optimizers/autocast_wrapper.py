"""bf16 mixed precision where mmengine's AmpOptimWrapper cannot go: the CPU.

mmengine's ``AmpOptimWrapper`` refuses to start without a GPU. CPUs with
native bf16 arithmetic (AVX512-BF16 or AMX) run matrix products about twice
as fast in bf16 as in fp32, and bf16 keeps fp32's exponent range, so no loss
scaling is needed: an autocast region around the forward pass is the whole
of mixed precision there.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from pixpretrain.registry import OPTIM_WRAPPERS


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 products in hardware (AVX512-BF16 or
    AMX); without it torch emulates them, slower than fp32."""
    probes = ('_is_avx512_bf16_supported', '_is_amx_tile_supported')
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast`` in bf16.

    Parameters, gradients and the optimizer state stay fp32; matrix products
    and convolutions run in bf16 on whichever device holds the model (CPU
    or GPU). No gradient scaling: bf16 has fp32's range.

    Args:
        dtype: Autocast dtype; only 'bfloat16' (fp16 needs loss scaling, which
            ``AmpOptimWrapper`` provides on GPUs).
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            from pixpretrain.utils.errors import ConfigError
            raise ConfigError(
                f"AutocastOptimWrapper supports dtype='bfloat16' only, got "
                f'{dtype!r}; use AmpOptimWrapper (GPU) for float16')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        """mmengine's gradient-accumulation context plus bf16 autocast on
        the device of the model's first parameter."""
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(
                device, dtype=self.cast_dtype):
            yield
