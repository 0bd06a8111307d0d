"""CoCa's attentional pooler: learned queries attend to a sequence of
tokens (Yu et al. 2022, "CoCa: Contrastive Captioners are Image-Text
Foundation Models", section 3.2)."""
import torch
from torch import nn

from .transformer import MultiheadCrossAttention, check_positive_int


class AttentionalPooler(nn.Module):
    """``num_queries`` learned queries cross-attend to the (normalised)
    tokens; one query gives a pooled feature per image.

    Args:
        embed_dims: Width of the tokens and of the output.
        num_heads: Attention heads; must divide ``embed_dims``.
        num_queries: Number of pooled outputs.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 num_queries: int = 1) -> None:
        super().__init__()
        check_positive_int('num_queries', num_queries)
        self.query = nn.Parameter(torch.randn(1, num_queries, embed_dims) *
                                  embed_dims**-0.5)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = MultiheadCrossAttention(embed_dims, num_heads)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, M, D) tokens -> (B, num_queries, D)."""
        query = self.query.expand(tokens.shape[0], -1, -1)
        return self.attn(query, self.norm(tokens))
