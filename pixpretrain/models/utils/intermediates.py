"""Which layers a backbone hands out, and running it only as deep as asked.

Every backbone (ViT, PixelGPT, ResNet) takes ``out_indices`` with negative
indices counting from the end, and offers ``forward_intermediates(x,
layers)``; both are resolved here so that the range check, its message and
the early stop are the same everywhere.
"""
from typing import Callable, List, Optional, Sequence, Union

import torch

from pixpretrain.utils.errors import ConfigError

Stage = Callable[[torch.Tensor], torch.Tensor]


def layer_index(index: int, count: int, kind: str = 'layer',
                of: str = 'blocks') -> int:
    """``index`` (negative counts from the end) as a position in [0, count).

    Args:
        index: The index asked for.
        count: Number of layers.
        kind: What one is called in the message ('layer', 'stage').
        of: What the layers are called in the message ('blocks', 'ResNet
            stages').

    Raises:
        ConfigError: ``"layer index 5 is out of range for 4 blocks"``.
    """
    if not -count <= index < count:
        raise ConfigError(f'{kind} index {index} is out of range for '
                          f'{count} {of}')
    return index % count


def resolve_out_indices(out_indices: Union[int, Sequence[int]], count: int,
                        kind: str = 'layer',
                        of: str = 'blocks') -> List[int]:
    """A backbone's ``out_indices`` argument as checked positions.

    Args:
        out_indices: One index or several (negative counts from the end).
        count, kind, of: See :func:`layer_index`.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    return [layer_index(i, count, kind, of) for i in out_indices]


def run_intermediates(x: torch.Tensor, stages: Sequence[Stage],
                      layers: Sequence[int],
                      last: Optional[Stage] = None, kind: str = 'layer',
                      of: str = 'blocks') -> List[torch.Tensor]:
    """Outputs of the given stages, running none after the deepest asked.

    Args:
        x: Input of the first stage.
        stages: The stages, applied in order.
        layers: Stage indices (negative counts from the end), in the order
            the outputs are returned; repeats are allowed.
        last: Applied to the last stage's output when it is asked for (the
            transformers' final LayerNorm).
        kind, of: See :func:`layer_index`.

    Returns:
        One tensor per entry of ``layers``.
    """
    count = len(stages)
    positions = [layer_index(i, count, kind, of) for i in layers]
    wanted = sorted(set(positions))
    outputs = {}
    for i, stage in enumerate(stages[:wanted[-1] + 1]):
        x = stage(x)
        if i in wanted:
            outputs[i] = last(x) if last is not None and i == count - 1 \
                else x
    return [outputs[p] for p in positions]
