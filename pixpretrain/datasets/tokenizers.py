"""Text tokenizers that need no download, in the ``TOKENIZERS`` registry:
:class:`ByteTokenizer` here, :class:`BPETokenizer` in :mod:`.bpe`.

Both share one id layout, so a text backbone works with either:

====================  ==========================================
id                    token
====================  ==========================================
0                     padding
1                     start of text
2                     end of text
3 ... 258             the 256 byte values
259 ...               BPE merges, in the order they were learned
====================  ==========================================

A tokenizer call returns ``(N, context_length)`` int64 ids: start, the
caption's tokens, end, padding. Captions too long lose tokens from their
tail, never the end token (the text encoder reads its feature there).
"""
import re
from typing import Callable, Iterable, List, Sequence, Union

import torch

from pixpretrain.registry import TOKENIZERS
from pixpretrain.utils.errors import ConfigError

PAD_ID, SOT_ID, EOT_ID = 0, 1, 2
BYTE_OFFSET = 3
BYTE_VOCAB_SIZE = BYTE_OFFSET + 256

# Words keep their leading space (GPT-2's convention), so decoding is plain
# concatenation: letters, single digits, other symbols, whitespace.
_WORD = re.compile(r' ?[^\W\d_]+| ?\d| ?(?:(?![^\W\d_])[^\s\d])+|\s+')


def normalize_text(text: str, lowercase: bool = True) -> str:
    """Collapse runs of whitespace, strip, optionally lower-case."""
    text = ' '.join(text.split())
    return text.lower() if lowercase else text


def split_words(text: str) -> List[str]:
    """Pre-tokenisation: ``'a photo.'`` -> ``['a', ' photo', '.']``."""
    return _WORD.findall(text)


@TOKENIZERS.register_module()
class ByteTokenizer:
    """UTF-8 bytes as tokens: 259 ids, nothing to fit or download.

    Args:
        context_length: Length of every returned row, start and end tokens
            included; at least 2.
        lowercase: Lower-case captions first (CLIP does).
    """

    def __init__(self, context_length: int = 77,
                 lowercase: bool = True) -> None:
        if context_length < 2:
            raise ConfigError('context_length must be >= 2 (start and end '
                              f'tokens), got {context_length}')
        self.context_length = context_length
        self.lowercase = lowercase

    @property
    def vocab_size(self) -> int:
        """Number of ids; the text backbone's ``vocab_size`` must cover it."""
        return BYTE_VOCAB_SIZE

    def encode(self, text: str) -> List[int]:
        """The caption's token ids, without start, end or padding."""
        text = normalize_text(text, self.lowercase)
        return [b + BYTE_OFFSET for b in text.encode('utf-8')]

    def _token_bytes(self, token: int) -> bytes:
        return bytes([token - BYTE_OFFSET])

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (special ids skipped) -> text."""
        data = b''.join(
            self._token_bytes(int(i)) for i in ids if int(i) >= BYTE_OFFSET)
        return data.decode('utf-8', errors='replace')

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """Captions -> (N, context_length) int64 ids (a str counts as N=1).

        Each row is start, the first ``context_length - 2`` caption tokens,
        end, then padding.
        """
        if isinstance(texts, str):
            texts = [texts]
        rows = torch.full((len(texts), self.context_length), PAD_ID,
                          dtype=torch.long)
        room = self.context_length - 2
        for row, text in zip(rows, texts):
            body = self.encode(text)[:room]
            ids = [SOT_ID] + body + [EOT_ID]
            row[:len(ids)] = torch.tensor(ids, dtype=torch.long)
        return rows

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(vocab_size={self.vocab_size}, '
                f'context_length={self.context_length}, '
                f'lowercase={self.lowercase})')


def build_tokenizer(cfg: Union[dict, Callable]) -> Callable:
    """A tokenizer from its config, or the tokenizer itself."""
    return TOKENIZERS.build(cfg) if isinstance(cfg, dict) else cfg
