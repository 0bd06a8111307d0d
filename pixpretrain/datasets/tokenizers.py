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
import numbers
import re
from typing import Any, Callable, Iterable, List, Sequence, Union

import torch

from pixpretrain.registry import TOKENIZERS
from pixpretrain.utils.errors import ConfigError, bad_value

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


def check_texts(texts: Any) -> List[str]:
    """A tokenizer's input as a list of captions: a str, or a list or tuple
    of str; anything else is a :class:`ConfigError` naming what came."""
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, (list, tuple)):
        raise ConfigError(
            f'tokenizer input is {_described(texts)}: '
            "pass a caption (str) or a list of captions, e.g. ['a cat']")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(
                f'tokenizer input [{index}] is {_described(text)}, not a '
                'str: every caption must be a str')
    return list(texts)


def check_context_length(context_length: Any) -> int:
    """``context_length`` as an int >= 2 (room for start and end)."""
    if isinstance(context_length, bool) or not isinstance(
            context_length, numbers.Integral) or context_length < 2:
        raise bad_value('context_length', context_length,
                        'must be an int >= 2 (start and end tokens '
                        'included), e.g. context_length=77')
    return int(context_length)


class IdDecoding:
    """What every tokenizer's decoding shares: one row checked into ints of
    its vocabulary (``vocab_size``), and a batch decoded row by row (with
    the class's own ``decode``)."""

    def decode_batch(self, ids: Iterable[Iterable[int]]) -> List[str]:
        """(B, L) token ids -> B texts, one per row."""
        ndim = getattr(ids, 'ndim', None)
        if ndim is None and isinstance(ids, (list, tuple)):
            ndim = 2 if all(isinstance(row, (list, tuple)) or getattr(
                row, 'ndim', 0) == 1 for row in ids) else 1
        if ndim != 2:
            raise ConfigError(
                f'decode_batch takes (B, L) ids, got {_described(ids)}: '
                'for one row of ids use decode(ids)')
        return [self.decode(row) for row in ids]

    def _id_row(self, ids: Any) -> List[int]:
        """``ids`` as a list of ints in ``[0, vocab_size)``, or a
        :class:`ConfigError` saying why not."""
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise ConfigError(f'decode takes a sequence of token ids, got '
                              f'{_described(ids)}: pass one row of what '
                              'the tokenizer returns')
        if getattr(ids, 'ndim', 1) != 1:
            raise ConfigError(
                f'decode takes one row of ids, got {_described(ids)}: use '
                'decode_batch(ids) for a (B, L) batch (model.generate '
                'returns one) to get one text per row')
        if hasattr(ids, 'tolist'):  # a tensor or an array: plain ints
            ids = ids.tolist()
        for i in ids:
            if isinstance(i, bool) or not isinstance(
                    i, (numbers.Integral, torch.Tensor)) or getattr(
                        i, 'ndim', 0) != 0 or isinstance(i, torch.Tensor) \
                    and i.is_floating_point():
                raise ConfigError(
                    'decode takes one row of int ids, got the element '
                    f'{_described(i)}: use decode_batch(ids) for a batch')
        row = [int(i) for i in ids]
        bad = [i for i in row if not 0 <= i < self.vocab_size]
        if bad:
            raise ConfigError(
                f'token id {bad[0]} is outside the vocabulary of '
                f'{self.vocab_size} ids (0 to {self.vocab_size - 1}) of '
                f'{self!r}: decode ids made by this tokenizer')
        return row


@TOKENIZERS.register_module()
class ByteTokenizer(IdDecoding):
    """UTF-8 bytes as tokens: 259 ids, nothing to fit or download.

    Args:
        context_length: Length of every returned row, start and end tokens
            included; at least 2.
        lowercase: Lower-case captions first (CLIP does).
    """

    def __init__(self, context_length: int = 77,
                 lowercase: bool = True) -> None:
        self.context_length = check_context_length(context_length)
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
        """One row of token ids (special ids skipped) -> text.

        A (B, L) batch, e.g. what ``model.generate`` returns, goes to
        :meth:`decode_batch`.
        """
        data = b''.join(self._token_bytes(i) for i in self._id_row(ids)
                        if i >= BYTE_OFFSET)
        return data.decode('utf-8', errors='replace')

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """Captions -> (N, context_length) int64 ids (a str counts as N=1).

        Each row is start, the first ``context_length - 2`` caption tokens,
        end, then padding.
        """
        texts = check_texts(texts)
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


def _described(value: Any) -> str:
    shape = getattr(value, 'shape', None)
    if shape is not None:
        return f'{type(value).__name__} of shape {tuple(shape)}'
    return f'{type(value).__name__} {value!r:.40}'


def build_tokenizer(cfg: Union[dict, Callable]) -> Callable:
    """A tokenizer from its config, or the tokenizer itself."""
    example = "dict(type='ByteTokenizer', context_length=77)"
    if isinstance(cfg, dict):
        if 'type' not in cfg:
            raise ConfigError(f'tokenizer config {dict(cfg)} has no type: '
                              f'name the tokenizer class, e.g. {example}')
        return TOKENIZERS.build(cfg)
    if callable(cfg) and not isinstance(cfg, type):
        return cfg
    raise ConfigError(f'tokenizer = {cfg!r:.60}: pass a config such as '
                      f'{example}, or a tokenizer object')
