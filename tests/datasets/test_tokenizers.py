"""Tokenizers and TokenizeText: layout, truncation, BPE fitting."""
import json
import random
from collections import Counter

import numpy as np
import pytest
import torch

from pixpretrain.datasets import (BPETokenizer, ByteTokenizer, PackInputs,
                                  TokenizeText)
from pixpretrain.datasets.bpe import fit_bpe_merges
from pixpretrain.datasets.tokenizers import (EOT_ID, PAD_ID, SOT_ID,
                                             build_tokenizer,
                                             normalize_text, split_words)
from pixpretrain.registry import TOKENIZERS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError


def test_byte_layout_start_bytes_end_padding():
    ids = ByteTokenizer(context_length=8)('Hi  A')[0].tolist()
    # lower-cased, whitespace collapsed, bytes shifted by the 3 specials
    assert ids == [SOT_ID, ord('h') + 3, ord('i') + 3, ord(' ') + 3,
                   ord('a') + 3, EOT_ID, PAD_ID, PAD_ID]


@pytest.mark.parametrize('context_length', [2, 5, 16])
def test_truncation_keeps_the_end_token(context_length):
    tokenizer = ByteTokenizer(context_length=context_length)
    text = 'a very long caption that does not fit'
    row = tokenizer([text])[0].tolist()
    assert len(row) == context_length
    assert row[0] == SOT_ID and row[-1] == EOT_ID
    body = [ord(c) + 3 for c in text][:context_length - 2]
    assert row[1:-1] == body


def test_bpe_truncation_keeps_the_end_token():
    tokenizer = BPETokenizer.fit(['a cat and a dog'] * 3, vocab_size=280,
                                 context_length=4)
    row = tokenizer('a cat and a dog and a cat')[0].tolist()
    assert row[0] == SOT_ID and row[-1] == EOT_ID and len(row) == 4
    assert PAD_ID not in row


def test_byte_decoding_round_trips_unicode():
    tokenizer = ByteTokenizer(lowercase=False)
    text = 'Café — 猫 🐈'
    assert tokenizer.decode(tokenizer(text)[0].tolist()) == text


def test_first_merge_is_the_most_frequent_pair():
    # Within words: ' a','a','b' ... the pair (a, b) occurs 5 times, more
    # than any other.
    merges = fit_bpe_merges(['ab ab ab', 'xab', 'abz'], vocab_size=260,
                            min_frequency=1)
    a, b = ord('a') + 3, ord('b') + 3
    assert merges == [(a, b)]


def naive_bpe(captions, num_merges, min_frequency=2):
    """BPE the slow, obvious way: count every adjacent pair inside every
    word, merge the most frequent (ties: the smallest ids) everywhere."""
    words = [[b + 3 for b in w.encode()] for c in captions
             for w in split_words(normalize_text(c))]
    merges = []
    while len(merges) < num_merges:
        counts = Counter(p for w in words for p in zip(w, w[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        if counts[best] < min_frequency:
            break
        merges.append(best)
        new = 259 + len(merges) - 1
        for i, w in enumerate(words):
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
    return merges


def test_merges_equal_a_naive_bpe_ties_included():
    rng = random.Random(0)
    syllables = ['ka', 'ta', 'na', 'ma', 'ki', 'to', 'ba', 'ab', 'aa', 'é']
    captions = [' '.join(''.join(rng.choice(syllables)
                                 for _ in range(rng.randint(1, 4)))
                         for _ in range(rng.randint(1, 6))) + rng.choice(
                             ['.', '!', ' 42', ''])
                for _ in range(300)]
    expected = naive_bpe(captions, 120)
    assert len(expected) == 120
    assert fit_bpe_merges(captions, 259 + 120) == expected
    # and when no pair repeats often enough before the target size
    assert fit_bpe_merges(captions, 259 + 5000, min_frequency=20) == \
        naive_bpe(captions, 5000, min_frequency=20)


def test_bpe_compresses_and_round_trips(tmp_path):
    captions = ['a photo of a cat.', 'a photo of a dog.',
                'a blurry photo of the big truck.'] * 10
    tokenizer = BPETokenizer.fit(captions, vocab_size=320)
    text = 'a blurry photo of a cat.'
    ids = tokenizer.encode(text)
    assert len(ids) < len(text)
    assert max(ids) < tokenizer.vocab_size
    assert tokenizer.decode(ids) == text
    # unseen words fall back to bytes, still exact
    assert tokenizer.decode(tokenizer.encode('zebra 42!')) == 'zebra 42!'

    path = tmp_path / 'run' / 'bpe.json'
    tokenizer.save(str(path))
    loaded = TOKENIZERS.build(dict(type='BPETokenizer', vocab_file=str(path),
                                   context_length=77))
    assert torch.equal(loaded(captions[:3]), tokenizer(captions[:3]))
    assert json.loads(path.read_text())['vocab_size'] == tokenizer.vocab_size


def test_fitting_stops_when_no_pair_repeats():
    tokenizer = BPETokenizer.fit(['abc'], vocab_size=1000)
    assert tokenizer.merges == [] and tokenizer.vocab_size == 259


def test_missing_vocab_file_names_the_tool(tmp_path):
    with pytest.raises(DataRootNotFoundError, match='fit_bpe.py'):
        BPETokenizer(vocab_file=str(tmp_path / 'none.json'))


def test_invalid_settings():
    with pytest.raises(ConfigError, match='context_length'):
        ByteTokenizer(context_length=1)
    with pytest.raises(ConfigError, match='vocab_size'):
        fit_bpe_merges(['a'], vocab_size=100)
    with pytest.raises(ConfigError, match='exactly one'):
        BPETokenizer()
    with pytest.raises(ConfigError, match='merge 0'):
        BPETokenizer(merges=[(3, 400)])


def test_tokenize_text_picks_a_caption_and_pack_inputs_carries_it():
    transform = TokenizeText(dict(type='ByteTokenizer', context_length=6))
    captions = ['one', 'two', 'six']
    np.random.seed(0)
    picked = {transform(dict(captions=captions))['text'] for _ in range(30)}
    assert picked == set(captions)
    results = TokenizeText(ByteTokenizer(context_length=6),
                           caption_choice='first')(
                               dict(captions=captions,
                                    img=np.zeros((4, 4, 3), np.uint8)))
    assert results['text'] == 'one'
    packed = PackInputs()(results)
    assert packed['data_samples'].text_tokens.tolist() == [
        SOT_ID, ord('o') + 3, ord('n') + 3, ord('e') + 3, EOT_ID, PAD_ID]


def test_pack_inputs_without_text_is_unchanged():
    packed = PackInputs()(dict(img=np.zeros((4, 4, 3), np.uint8),
                               gt_label=3))
    assert 'text_tokens' not in packed['data_samples']
    assert packed['data_samples'].gt_label.item() == 3


def test_tokenize_text_needs_captions():
    with pytest.raises(ConfigError, match='captions'):
        TokenizeText(dict(type='ByteTokenizer'))(dict(img=None))
    with pytest.raises(ConfigError, match='caption_choice'):
        TokenizeText(dict(type='ByteTokenizer'), caption_choice='all')
    with pytest.raises(ConfigError, match="'a.jpg' has an empty caption list"):
        TokenizeText(dict(type='ByteTokenizer'))(
            dict(img=None, img_path='a.jpg', captions=[]))


def test_decode_batch_gives_one_text_per_row():
    tokenizer = ByteTokenizer(context_length=8)
    batch = tokenizer(['a cat', 'dog'])  # (B, L), as model.generate returns
    assert tokenizer.decode_batch(batch) == ['a cat', 'dog']
    assert tokenizer.decode_batch(batch.tolist()) == ['a cat', 'dog']
    assert tokenizer.decode(batch[1]) == 'dog'
    with pytest.raises(ConfigError, match=r'decode_batch\(ids\).*\(2, 8\)|'
                       r'\(2, 8\).*decode_batch\(ids\)'):
        tokenizer.decode(batch)
    with pytest.raises(ConfigError, match=r'decode\(ids\)'):
        tokenizer.decode_batch(batch[0])


@pytest.mark.parametrize('ids,match', [
    ([5000], 'vocabulary of 259 ids'), ([-1], 'vocabulary of 259 ids'),
    ([1.5], 'int ids'), ('abc', 'sequence of token ids'),
    (7, 'sequence of token ids')])
def test_decode_refuses_ids_it_cannot_have_made(ids, match):
    with pytest.raises(ConfigError, match=match):
        ByteTokenizer().decode(ids)


def test_bpe_decode_names_its_vocabulary_size():
    tokenizer = BPETokenizer.fit(['a cat and a dog'] * 3, vocab_size=262)
    with pytest.raises(ConfigError, match='vocabulary of 262 ids'):
        tokenizer.decode([262])


@pytest.mark.parametrize('texts,match', [
    ([None], r'\[0\] is NoneType'), (['a', 1], r'\[1\] is int 1'),
    (b'abc', 'bytes'), (None, 'NoneType'), ({'a'}, 'set')])
def test_tokenizer_refuses_what_is_not_captions(texts, match):
    with pytest.raises(ConfigError, match=match):
        ByteTokenizer()(texts)


def test_tokenizer_takes_a_tuple_of_captions():
    tokenizer = ByteTokenizer(context_length=6)
    assert torch.equal(tokenizer(('a', 'b')), tokenizer(['a', 'b']))


@pytest.mark.parametrize('context_length', [None, '77', 7.5, True, 1])
def test_context_length_must_be_an_int_of_at_least_two(context_length):
    with pytest.raises(ConfigError, match='context_length = .*int >= 2'):
        ByteTokenizer(context_length=context_length)


@pytest.mark.parametrize('cfg,match', [
    ('ByteTokenizer', r"dict\(type='ByteTokenizer'"),
    (None, 'tokenizer = None'), (ByteTokenizer, 'tokenizer object'),
    (dict(context_length=8), 'has no type')])
def test_build_tokenizer_refuses_what_is_not_a_tokenizer(cfg, match):
    with pytest.raises(ConfigError, match=match):
        build_tokenizer(cfg)
    tokenizer = ByteTokenizer()
    assert build_tokenizer(tokenizer) is tokenizer


@pytest.mark.parametrize('texts', ['one long string, one long string', b'a'])
def test_bpe_fit_refuses_a_single_string(texts):
    with pytest.raises(ConfigError, match='iterable of captions'):
        BPETokenizer.fit(texts, vocab_size=300)
    with pytest.raises(ConfigError, match=r'texts\[1\] is a NoneType'):
        fit_bpe_merges(['a', None], vocab_size=300)


@pytest.mark.parametrize('content,match', [
    ('not json', 'is not JSON'), ('[1, 2]', "'a JSON list'"),
    ('{"format": "other"}', "'other'"),
    ('{"format": "pixpretrain-bpe-v1", "lowercase": true}', 'not a pix')])
def test_unreadable_vocab_file_names_the_file_and_the_tool(
        tmp_path, content, match):
    path = tmp_path / 'bpe.json'
    path.write_text(content)
    with pytest.raises(ConfigError, match=match) as error:
        BPETokenizer(vocab_file=str(path))
    assert str(path) in str(error.value) and 'fit_bpe.py' in str(error.value)
