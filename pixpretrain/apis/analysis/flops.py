"""What model FLOPs utilisation (MFU) is made of: the model FLOPs per image
of one training step, counted by torch's ``FlopCounterMode``, and the name
and data-sheet peak of the device it runs on."""
import platform
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional

import torch

# Dense tensor-core peaks (TFLOP/s) from the vendors' data sheets, by the
# name torch reports and the compute dtype. fp32 is the plain (non-TF32) peak.
# The longest key found in the device name wins ('H200 NVL' over 'H200').
PEAK_TFLOPS: Dict[str, Dict[str, float]] = {
    'H100 80GB HBM3': dict(bf16=989.0, fp16=989.0, fp32=67.0),  # SXM
    'H100 PCIe': dict(bf16=756.0, fp16=756.0, fp32=51.0),
    'H100 NVL': dict(bf16=835.0, fp16=835.0, fp32=60.0),
    'H200': dict(bf16=989.0, fp16=989.0, fp32=67.0),  # SXM, as the H100 SXM
    'H200 NVL': dict(bf16=835.0, fp16=835.0, fp32=60.0),
    'A100-SXM4-80GB': dict(bf16=312.0, fp16=312.0, fp32=19.5),
    'A100-SXM4-40GB': dict(bf16=312.0, fp16=312.0, fp32=19.5),
    'A100-PCIE-40GB': dict(bf16=312.0, fp16=312.0, fp32=19.5),
}


def _take(batch, count: int):
    """The first ``count`` samples of a collated batch (dict/list/tensor)."""
    if isinstance(batch, dict):
        return {k: _take(v, count) for k, v in batch.items()}
    if isinstance(batch, (list, tuple, torch.Tensor)):
        return batch[:count]
    return batch


def count_cpu_flash_attention() -> None:
    """Teach ``FlopCounterMode`` the model FLOPs of torch's CPU
    flash-attention kernels: two matrix products forward, four backward, as
    SDPA's math backend counts them (the backward kernel also recomputes the
    scores, which model FLOPs leave out, so MFU is not flattered).
    Idempotent."""
    from torch.utils import flop_counter
    aten = torch.ops.aten
    forward = aten._scaled_dot_product_flash_attention_for_cpu
    if forward in flop_counter.flop_registry:
        return

    def forward_flops(query, key, value, *args, out_shape=None, **kwargs):
        return flop_counter.sdpa_flop_count(query, key, value)

    def backward_flops(grad_out, query, key, value, *args, out_shape=None,
                       **kwargs):
        return 2 * flop_counter.sdpa_flop_count(query, key, value)

    flop_counter.register_flop_formula(forward)(forward_flops)
    flop_counter.register_flop_formula(
        aten._scaled_dot_product_flash_attention_for_cpu_backward)(
            backward_flops)


@contextmanager
def flop_counter(model: torch.nn.Module) -> Iterator:
    """A ``FlopCounterMode`` (no printing) for ``model``'s computations, as
    every count here is made: CPU flash attention taught to the counter
    (:func:`count_cpu_flash_attention`), and SDPA's math backend on a CPU,
    whose matrix products the counter knows.

    Args:
        model: The module whose parameters tell the device.

    Yields:
        The counter: ``get_total_flops()``, ``get_flop_counts()`` per
        module.
    """
    from contextlib import nullcontext

    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    count_cpu_flash_attention()
    parameter = next(model.parameters(), None)
    on_cpu = parameter is None or parameter.device.type == 'cpu'
    backend = sdpa_kernel(SDPBackend.MATH) if on_cpu else nullcontext()
    with backend, FlopCounterMode(display=False) as counter:
        yield counter


def count_train_flops(model: torch.nn.Module, batch: dict,
                      images: int = 2,
                      autocast: Optional[Callable] = None) -> float:
    """Model FLOPs per image of one forward + backward pass.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls,
    convolutions, attention) on the first ``images`` samples of ``batch``,
    through the model's own preprocessor and loss. The counter has no
    formula for torch's CPU flash-attention kernels, which
    ``CPUBf16FlashAttention`` calls directly; :func:`count_cpu_flash_attention`
    gives them the GPU flash kernels' formulas. Elsewhere on a CPU attention
    runs through SDPA's math backend while counting; the counts agree.

    Args:
        model: An mmengine ``BaseModel`` (unwrapped).
        batch: A collated batch from the training data loader.
        images: Samples counted; FLOPs scale linearly with the batch.
        autocast: Optional context factory (the optim wrapper's
            ``optim_context``) so the count runs in the training precision.
    """
    from contextlib import nullcontext
    data = model.data_preprocessor(_take(batch, images), True)
    count = data['inputs'].shape[0] if isinstance(
        data['inputs'], torch.Tensor) else data['inputs'][0].shape[0]
    context = autocast() if autocast else nullcontext()
    with flop_counter(model) as counter:
        with context:
            losses = model(**data, mode='loss')
            loss, _ = model.parse_losses(losses)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / count


def peak_tflops(dtype: str, name: Optional[str] = None) -> Optional[float]:
    """The data-sheet peak of this GPU (or the GPU called ``name``) for
    ``dtype``, if it is known."""
    if name is None:
        if not torch.cuda.is_available():
            return None
        name = torch.cuda.get_device_name()
    keys = sorted((k for k in PEAK_TFLOPS if k in name), key=len)
    return PEAK_TFLOPS[keys[-1]].get(dtype) if keys else None


def cpu_name() -> str:
    """The CPU's model name (Linux), else the platform's processor name."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name() -> str:
    """The GPU's name, or the CPU's with the vector instructions torch uses
    (the same model name can hide AVX2 and AVX-512 hosts) and the threads."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return (f'CPU ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}, '
            f'{torch.get_num_threads()} threads)')

