"""iGPT's transformer over palette tokens (Chen et al., "Generative
Pretraining from Pixels", ICML 2020)."""
import math
import numbers
from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, bad_value
from ..utils import (TransformerBlock, resolve_out_indices,
                     run_intermediates)
from ..utils.sampling import KVCache, cached_blocks
from .arch import arch_presets, set_arch

# width, depth, heads (iGPT paper, section 3.3: 76M, 455M and 1.4B
# parameters); 'nano' and 'tiny' are ours, small enough for a CPU.
ARCHS = arch_presets(nano=(64, 4, 4, 4.0), tiny=(128, 4, 4, 4.0),
                     s=(512, 24, 8, 4.0), m=(1024, 36, 8, 4.0),
                     l=(1536, 48, 16, 4.0))
ARCH_ALIASES = {'small': 's', 'medium': 'm', 'large': 'l'}


@MODELS.register_module()
class PixelGPT(BaseModule):
    """GPT-2 over palette tokens read in raster order.

    Tokens ``0 .. num_colors - 1`` are palette colours, ``num_colors`` is the
    start token (so the vocabulary is 513 for 512 colours, as the paper's)
    and ``num_colors + 1`` the mask token of the BERT objective. Each is
    embedded, a learned position embedding added, then pre-norm blocks with
    torch's SDPA attention and a final LayerNorm.

    One set of weights serves both objectives: ``causal`` picks the default
    attention and every call may override it (AR heads need causal
    attention, BERT heads bidirectional).

    Args:
        arch: 'nano', 'tiny' (CPU sizes), 's', 'm', 'l' (the paper's iGPT-S,
            -M, -L) or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads``, ``mlp_ratio``.
        num_colors: Palette size K.
        img_size: Token grid side (or (h, w)); the sequence holds h * w
            tokens.
        causal: Default attention of :meth:`forward`,
            :meth:`forward_intermediates` and :meth:`encode`.
        out_indices: Blocks whose outputs :meth:`forward` returns (negative
            counts from the end); the last block's output is normed.
        with_cp: Activation checkpointing of every block: keep only each
            block's input for the backward pass and recompute the rest
            there (less memory, about a third more compute).
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained', ...)``.
    """

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 num_colors: int = 512,
                 img_size: Union[int, Sequence[int]] = 32,
                 causal: bool = True,
                 out_indices: Union[int, Sequence[int]] = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        settings = set_arch(self, arch, ARCHS, ARCH_ALIASES)
        if not isinstance(num_colors, numbers.Integral) or num_colors < 2:
            raise bad_value('backbone.num_colors', num_colors,
                            'must be the palette size, an int (allowed: >= '
                            '2)')
        self.num_colors = int(num_colors)
        self.start_token = self.num_colors
        self.mask_token = self.num_colors + 1
        if isinstance(img_size, numbers.Integral):
            img_size = (img_size, img_size)
        if len(img_size) != 2 or not all(
                isinstance(s, numbers.Integral) and s > 0 for s in img_size):
            raise bad_value('backbone.img_size', img_size,
                            'must be the token grid side (allowed: a '
                            'positive int or (h, w) of positive ints)')
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.seq_len = self.img_size[0] * self.img_size[1]
        self.causal = causal

        self.token_embed = nn.Embedding(self.num_colors + 2, self.embed_dims)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.seq_len, self.embed_dims))
        self.blocks = nn.ModuleList(
            TransformerBlock(self.embed_dims, self.num_heads,
                             settings['mlp_ratio'], causal=causal,
                             layer_norm_eps=1e-5, with_cp=with_cp)
            for _ in range(self.num_layers))
        self.norm = nn.LayerNorm(self.embed_dims, eps=1e-5)
        self.out_indices = resolve_out_indices(out_indices, self.num_layers)
        self._init_as_gpt2()

    def _init_as_gpt2(self) -> None:
        """GPT-2's init: N(0, 0.02) weights, residual projections scaled by
        1 / sqrt(2 * depth) so the residual stream's variance stays put."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * self.num_layers)
        for block in self.blocks:
            nn.init.normal_(block.attn.proj.weight, std=residual_std)
            nn.init.normal_(block.mlp[2].weight, std=residual_std)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def _as_sequence(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, H, W) grids or (B, N) sequences -> (B, N), checked."""
        if tokens.ndim == 3:
            tokens = tokens.flatten(1)  # raster order
        if tokens.ndim != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                'PixelGPT takes integer tokens of shape (B, N) or (B, H, W), '
                f'got {tuple(tokens.shape)} {tokens.dtype}')
        if tokens.shape[1] > self.seq_len:
            raise ConfigError(
                f'{tokens.shape[1]} tokens exceed the {self.seq_len} '
                f'positions of a {self.img_size} grid (backbone.img_size): '
                "resize the pipeline's images to that grid, or set "
                'backbone.img_size')
        return tokens

    def embed(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, N) tokens at positions ``start..start+N-1`` -> (B, N, D)."""
        tokens = self._as_sequence(tokens)
        positions = self.pos_embed[:, start:start + tokens.shape[1]]
        return self.token_embed(tokens) + positions

    def encode(self, x: torch.Tensor,
               causal: Optional[bool] = None) -> torch.Tensor:
        """(B, N, D) embedded tokens -> (B, N, D) after every block and the
        final LayerNorm."""
        causal = self.causal if causal is None else causal
        for block in self.blocks:
            x = block(x, causal=causal)
        return self.norm(x)

    def forward_intermediates(self, tokens: torch.Tensor,
                              layers: Sequence[int],
                              causal: Optional[bool] = None
                              ) -> List[torch.Tensor]:
        """Outputs of the given blocks, each (B, N, D).

        Blocks after the deepest requested one are not run. The last block's
        output passes the final LayerNorm, as in :meth:`encode`.

        Args:
            tokens: (B, N) or (B, H, W) token ids, fed as they are (an AR
                model's start-token shift is the caller's, see
                ``IGPT.extract_feat``).
            layers: Block indices (negative counts from the end).
            causal: Attention for this call; the backbone's by default.
        """
        causal = self.causal if causal is None else causal
        blocks = [partial(block, causal=causal) for block in self.blocks]
        return run_intermediates(self.embed(tokens), blocks, layers,
                                 last=self.norm)

    def forward(self, tokens: torch.Tensor,
                causal: Optional[bool] = None) -> Tuple[torch.Tensor, ...]:
        """Outputs of the ``out_indices`` blocks, each (B, N, D)."""
        return tuple(
            self.forward_intermediates(tokens, self.out_indices, causal))

    def init_cache(self, batch_size: int,
                   max_len: Optional[int] = None) -> KVCache:
        """An empty key/value cache for :meth:`decode`, of ``max_len``
        positions (the whole sequence by default)."""
        max_len = self.seq_len if max_len is None else max_len
        weight = self.pos_embed
        return KVCache(self.num_layers, batch_size, self.num_heads, max_len,
                       self.embed_dims // self.num_heads, weight.device,
                       weight.dtype)

    def decode(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Causal features of new tokens, reusing the cached past.

        Each call costs only the new positions: their queries attend to the
        cached keys and values, which are then extended by theirs.

        Args:
            tokens: (B, N) tokens at the next N positions.
            cache: From :meth:`init_cache`; advanced by N.

        Returns:
            (B, N, D) features after the final LayerNorm, equal to those of
            :meth:`encode` with causal attention over the whole sequence.
        """
        cache.check_room(tokens.shape[1])
        x = self.embed(tokens, cache.length)
        x = cached_blocks(self.blocks, x, cache)
        return self.norm(x)
