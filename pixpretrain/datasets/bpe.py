"""Byte-level BPE: learning merges from captions (:func:`fit_bpe_merges`),
and the tokenizer that applies them (:class:`BPETokenizer`), on the id
layout of :mod:`.tokenizers`."""
import heapq
import json
import os
from collections import Counter, defaultdict
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple)

from pixpretrain.registry import TOKENIZERS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

from .tokenizers import (BYTE_OFFSET, BYTE_VOCAB_SIZE, ByteTokenizer,
                         normalize_text, split_words)

BPE_FORMAT = 'pixpretrain-bpe-v1'

Merge = Tuple[int, int]


def fit_bpe_merges(texts: Iterable[str], vocab_size: int,
                   lowercase: bool = True, min_frequency: int = 2,
                   progress: Optional[Callable[[], None]] = None
                   ) -> List[Merge]:
    """Learn byte-pair merges from captions (Sennrich et al. 2016).

    Repeatedly fuses the most frequent adjacent pair of tokens inside words
    (ties: the smallest ids), until the vocabulary has ``vocab_size`` ids or
    no pair occurs ``min_frequency`` times. Pair counts are updated only in
    the words a merge touches.

    Args:
        texts: Training captions.
        vocab_size: Target number of ids, >= 259 (specials + bytes).
        lowercase: Lower-case captions first.
        min_frequency: Pairs rarer than this are never merged.
        progress: Called once per merge (e.g. a progress bar's update).

    Returns:
        The merges in order; merge k creates id ``259 + k``.
    """
    if vocab_size < BYTE_VOCAB_SIZE:
        raise ConfigError(f'vocab_size must be >= {BYTE_VOCAB_SIZE} (3 '
                          f'special ids + 256 bytes), got {vocab_size}')
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise ConfigError(
            f'texts is a {type(texts).__name__}, not an iterable of '
            "captions: pass e.g. ['a photo of a cat.', ...] (a str would be "
            'fitted one character at a time)')
    word_counts: Counter = Counter()
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(f'texts[{index}] is a {type(text).__name__} '
                              f'({text!r:.40}), not a str caption')
        word_counts.update(split_words(normalize_text(text, lowercase)))
    words = [[b + BYTE_OFFSET for b in w.encode('utf-8')]
             for w in word_counts]
    freqs = list(word_counts.values())

    pair_counts: Counter = Counter()
    where: Dict[Merge, set] = defaultdict(set)  # pair -> word indices
    for index, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freqs[index]
            where[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: List[Merge] = []
    while len(merges) < vocab_size - BYTE_VOCAB_SIZE and heap:
        neg_count, pair = heapq.heappop(heap)
        if -neg_count != pair_counts.get(pair, 0):
            continue  # stale entry: the count changed since it was pushed
        if -neg_count < min_frequency:
            break
        new_id = BYTE_VOCAB_SIZE + len(merges)
        merges.append(pair)
        changed = set()
        for index in where.pop(pair):
            word, freq = words[index], freqs[index]
            for old in zip(word, word[1:]):
                pair_counts[old] -= freq
                changed.add(old)
            word = _merge_pair(word, pair, new_id)
            words[index] = word
            for new in zip(word, word[1:]):
                pair_counts[new] += freq
                where[new].add(index)
                changed.add(new)
        for changed_pair in changed:
            count = pair_counts[changed_pair]
            if count > 0:
                heapq.heappush(heap, (-count, changed_pair))
            else:
                del pair_counts[changed_pair]
        if progress is not None:
            progress()
    return merges


def _merge_pair(word: List[int], pair: Merge, new_id: int) -> List[int]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


@TOKENIZERS.register_module()
class BPETokenizer(ByteTokenizer):
    """Byte-level BPE fitted on the training captions.

    ``tools/dataset_converters/fit_bpe.py CONFIG`` fits the merges on the
    config's training captions and writes the JSON file this tokenizer
    reads; nothing is downloaded.

    Args:
        vocab_file: JSON written by :meth:`save` (or the tool).
        merges: The merges themselves, instead of a file.
        context_length: Length of every returned row.
        lowercase: Used only with ``merges``; a file stores the setting it
            was fitted with.
    """

    def __init__(self,
                 vocab_file: Optional[str] = None,
                 merges: Optional[Sequence[Merge]] = None,
                 context_length: int = 77,
                 lowercase: bool = True) -> None:
        if (vocab_file is None) == (merges is None):
            raise ConfigError('BPETokenizer needs exactly one of vocab_file '
                              'and merges')
        if vocab_file is not None:
            merges, lowercase = self._read(vocab_file)
        super().__init__(context_length, lowercase)
        self.vocab_file = vocab_file
        self.merges: List[Merge] = [tuple(m) for m in merges]
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < BYTE_VOCAB_SIZE + k and
                    0 <= b < BYTE_VOCAB_SIZE + k):
                raise ConfigError(f'merge {k} ({a}, {b}) uses an id not '
                                  'defined before it')
        self.ranks = {pair: k for k, pair in enumerate(self.merges)}
        self._pieces: Dict[int, bytes] = {}
        for k, (a, b) in enumerate(self.merges):
            self._pieces[BYTE_VOCAB_SIZE + k] = \
                self._token_bytes(a) + self._token_bytes(b)
        self._cache: Dict[str, List[int]] = {}

    @staticmethod
    def _read(vocab_file: str) -> Tuple[List[Merge], bool]:
        path = os.path.expanduser(vocab_file)
        if not os.path.isfile(path):
            raise DataRootNotFoundError(
                f"BPE vocabulary '{path}' does not exist; fit it on the "
                'training captions first: python '
                'tools/dataset_converters/fit_bpe.py CONFIG')
        refit = ('; write one with python '
                 'tools/dataset_converters/fit_bpe.py CONFIG')
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except ValueError as error:  # not JSON, or not UTF-8
            raise ConfigError(f"BPE vocabulary '{path}' is not JSON "
                              f'({error}){refit}') from None
        if not isinstance(data, dict) or data.get('format') != BPE_FORMAT \
                or not isinstance(data.get('merges'), list) \
                or 'lowercase' not in data:
            found = data.get('format') if isinstance(data, dict) else \
                f'a JSON {type(data).__name__}'
            raise ConfigError(f"BPE vocabulary '{path}' is not a "
                              f'{BPE_FORMAT} file (found: {found!r}){refit}')
        return [tuple(m) for m in data['merges']], bool(data['lowercase'])

    @classmethod
    def fit(cls, texts: Iterable[str], vocab_size: int,
            context_length: int = 77, lowercase: bool = True,
            min_frequency: int = 2,
            progress: Optional[Callable[[], None]] = None
            ) -> 'BPETokenizer':
        """A tokenizer with merges learned by :func:`fit_bpe_merges`."""
        merges = fit_bpe_merges(texts, vocab_size, lowercase, min_frequency,
                                progress)
        return cls(merges=merges, context_length=context_length,
                   lowercase=lowercase)

    def save(self, path: str) -> None:
        """Write the merges as JSON (readable by ``vocab_file``)."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(
                dict(format=BPE_FORMAT, lowercase=self.lowercase,
                     vocab_size=self.vocab_size,
                     merges=[list(m) for m in self.merges]), f)

    @property
    def vocab_size(self) -> int:
        return BYTE_VOCAB_SIZE + len(self.merges)

    def _token_bytes(self, token: int) -> bytes:
        if token < BYTE_VOCAB_SIZE:
            return super()._token_bytes(token)
        return self._pieces[token]

    def _encode_word(self, word: str) -> List[int]:
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        ids = [b + BYTE_OFFSET for b in word.encode('utf-8')]
        while len(ids) > 1:
            # Apply the earliest-learned merge present, as during fitting.
            rank, pair = min((self.ranks.get(p, len(self.ranks)), p)
                             for p in zip(ids, ids[1:]))
            if rank == len(self.ranks):
                break
            ids = _merge_pair(ids, pair, BYTE_VOCAB_SIZE + rank)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def encode(self, text: str) -> List[int]:
        text = normalize_text(text, self.lowercase)
        return [i for word in split_words(text)
                for i in self._encode_word(word)]

    def __repr__(self) -> str:
        source = f'vocab_file={self.vocab_file!r}' if self.vocab_file \
            else f'{len(self.merges)} merges'
        return (f'{type(self).__name__}({source}, vocab_size='
                f'{self.vocab_size}, context_length={self.context_length})')
