"""CLIP's text encoder: a causal transformer read out at end-of-text."""
from typing import Optional, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError, too_many_tokens
from ..utils import (TransformerBlock, drop_path_rates,
                     init_transformer_weights)
from ..utils.sampling import KVCache, cached_blocks
from .arch import arch_presets, resolve_arch

# width, depth, heads, MLP width (CLIP, Radford et al. 2021, Table 19/20:
# the text tower of ViT-B models is 512 wide, 8 heads, 12 layers; ViT-L/14's
# is 768 wide, 12 heads). 't' is a CPU-sized tower for tests and demos.
ARCHS = arch_presets(t=(256, 4, 4, 4.0), b=(512, 12, 8, 4.0),
                     l=(768, 12, 12, 4.0))
ARCH_ALIASES = {'tiny': 't', 'base': 'b', 'large': 'l'}


@MODELS.register_module()
class TextTransformer(BaseModule):
    """Token + learned position embeddings, causal pre-norm blocks, final
    LayerNorm; a caption's feature is the output at its end-of-text token.

    Causal attention makes that output depend on the caption only, never on
    the padding after it, so no padding mask is needed.

    Args:
        arch: 't', 'b', 'l' (or 'tiny', 'base', 'large') or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``, ``mlp_ratio``.
        vocab_size: Number of token ids; must cover the tokenizer's.
        context_length: Longest token sequence (the tokenizer's).
        eot_id: Id of the end-of-text token (2 in pixpretrain's tokenizers).
        drop_path_rate: Stochastic depth, linearly increasing over blocks.
        layer_norm_eps: Epsilon of every LayerNorm (1e-5 in CLIP).
        with_cp: Activation checkpointing of every block: keep only each
            block's input for the backward pass and recompute the rest
            there (less memory, about a third more compute).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 vocab_size: int = 49408,
                 context_length: int = 77,
                 eot_id: int = 2,
                 drop_path_rate: float = 0.0,
                 layer_norm_eps: float = 1e-6,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        settings = resolve_arch(arch, ARCHS, ARCH_ALIASES,
                                key='text_backbone.arch')
        if not 0 <= eot_id < vocab_size:
            raise ConfigError(f'eot_id={eot_id} must lie in [0, vocab_size='
                              f'{vocab_size})')
        if context_length < 2:
            raise ConfigError('context_length must be >= 2 (start and end '
                              f'tokens), got {context_length}')
        self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        self.num_heads = settings['num_heads']
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.eot_id = eot_id

        self.token_embed = nn.Embedding(vocab_size, self.embed_dims)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, context_length, self.embed_dims))
        rates = drop_path_rates(drop_path_rate, self.num_layers)
        self.blocks = nn.ModuleList(
            TransformerBlock(self.embed_dims, settings['num_heads'],
                             settings['mlp_ratio'], causal=True,
                             drop_path=rate, layer_norm_eps=layer_norm_eps,
                             with_cp=with_cp)
            for rate in rates)
        self.norm = nn.LayerNorm(self.embed_dims, eps=layer_norm_eps)

        self.apply(init_transformer_weights)
        # CLIP's embedding initialisation.
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def _check_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Validate (B, L) ids; returns each row's first EOT index, (B, )."""
        if not isinstance(tokens, torch.Tensor) or \
                tokens.dtype != torch.long or tokens.ndim != 2:
            got = (f'{tokens.dtype} {tuple(tokens.shape)}' if isinstance(
                tokens, torch.Tensor) else type(tokens).__name__)
            raise ConfigError(
                f'the text tower takes (B, L) int64 token ids, got {got}: '
                'tokenize first, e.g. build_tokenizer(cfg.tokenizer)(texts)')
        if tokens.shape[1] > self.context_length:
            raise too_many_tokens(tokens.shape[1], self.context_length)
        is_eot = tokens == self.eot_id
        # One host sync: an out-of-range id would otherwise be a device-side
        # assert on GPU, and a caption without EOT would be read at token 0.
        bad = (tokens.max() >= self.vocab_size) | (tokens.min() < 0) | \
            ~is_eot.any(dim=1).all()
        if bad.item():
            raise ConfigError(
                f'token ids must lie in [0, vocab_size={self.vocab_size}) and '
                f'every row must hold eot_id={self.eot_id}; does the '
                "tokenizer match the text backbone's vocab_size?")
        return is_eot.int().argmax(dim=1)

    def forward(self, tokens: torch.Tensor) -> Tuple[torch.Tensor]:
        """(B, L) token ids, L <= context_length -> ((B, D), ) features at
        each row's first end-of-text token."""
        eot = self._check_tokens(tokens)  # (B, )
        # Causal attention: positions after the last EOT of the batch change
        # no output we read, so they are not computed.
        x = self.encode_tokens(tokens[:, :int(eot.max()) + 1])  # (B, L', D)
        return (x[torch.arange(x.shape[0], device=x.device), eot], )

    def eot_index(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) ids -> (B, ) each row's first end-of-text position, the
        ids checked as :meth:`forward` checks them."""
        return self._check_tokens(tokens)

    def embed(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, N) ids at positions start ... start + N - 1 -> (B, N, D)
        token plus position embeddings."""
        end = start + tokens.shape[1]
        if end > self.context_length:
            raise too_many_tokens(end, self.context_length)
        return self.token_embed(tokens) + self.pos_embed[:, start:end]

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids, L <= context_length -> (B, L, D) features of
        every position (final norm applied); position t sees tokens <= t.
        Rows need no end-of-text token (a caption being generated)."""
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def init_cache(self, batch_size: int,
                   max_len: Optional[int] = None) -> KVCache:
        """An empty key/value cache for :meth:`decode`, of ``max_len``
        positions (``context_length`` by default)."""
        max_len = self.context_length if max_len is None else max_len
        if not 0 < max_len <= self.context_length:
            raise ValueError(f'max_len={max_len} must lie in [1, '
                             f'context_length={self.context_length}]')
        weight = self.pos_embed
        return KVCache(self.num_layers, batch_size, self.num_heads, max_len,
                       self.embed_dims // self.num_heads, weight.device,
                       weight.dtype)

    def decode(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """:meth:`encode_tokens` for the next N tokens of a sequence whose
        past is cached: each call costs the new positions only.

        Args:
            tokens: (B, N) ids at positions ``cache.length`` onwards.
            cache: From :meth:`init_cache`; advanced by N.

        Returns:
            (B, N, D) features after the final LayerNorm, equal to those
            :meth:`encode_tokens` gives the whole sequence at these positions.
        """
        cache.check_room(tokens.shape[1])
        x = self.embed(tokens, cache.length)
        return self.norm(cached_blocks(self.blocks, x, cache))
