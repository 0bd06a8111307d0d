"""OpenCLIPTokenizer: CLIP's shipped BPE, the ids OpenCLIP gives."""
import pickle
import sys

import pytest
import torch

from pixpretrain.datasets import OpenCLIPTokenizer, build_tokenizer
from pixpretrain.datasets.transforms import TokenizeText
from pixpretrain.utils.optional import MissingDependencyError

open_clip = pytest.importorskip('open_clip')

CAPTIONS = [
    'a photo of a cat.',
    'A PHOTO of a Dog!!',
    'two   dogs playing in the snow, 2019',
    'caf\u00e9 cr\u00e8me br\u00fbl\u00e9e &amp; macarons',
    '\u732b\u306e\u5199\u771f \U0001F431',
    'an extremely long caption ' * 20,
    '',
]


def test_known_ids_of_clips_vocabulary():
    tokenizer = OpenCLIPTokenizer()
    assert tokenizer.vocab_size == 49408
    # CLIP's published ids: <start> a photo of a cat . <end>.
    assert tokenizer('a photo of a cat.')[0, :8].tolist() == [
        49406, 320, 1125, 539, 320, 2368, 269, 49407]
    assert tokenizer('a photo of a cat.')[0, 8:].eq(0).all()


@pytest.mark.parametrize('context_length', [77, 16])
def test_ids_equal_open_clips_on_captions(context_length):
    tokenizer = build_tokenizer(dict(type='OpenCLIPTokenizer',
                                     context_length=context_length))
    expected = open_clip.tokenize(CAPTIONS, context_length=context_length)
    got = tokenizer(CAPTIONS)
    assert got.dtype == torch.long and got.shape == (len(CAPTIONS),
                                                     context_length)
    assert torch.equal(got, expected)
    # A long caption is cut with the end token kept last.
    assert got[5, -1].item() == tokenizer.eot_id == 49407


def test_decode_inverts_encode_up_to_cleaning():
    tokenizer = OpenCLIPTokenizer()
    ids = tokenizer('Two   Dogs, playing.')[0]
    assert tokenizer.decode(ids) == 'two dogs , playing .'


def test_pipeline_transform_and_worker_pickling():
    tokenizer = pickle.loads(pickle.dumps(OpenCLIPTokenizer(16)))
    out = TokenizeText(tokenizer, caption_choice='first').transform(
        dict(captions=['a photo of a cat.']))
    assert out['text_tokens'].tolist()[:3] == [49406, 320, 1125]


def test_missing_open_clip_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'open_clip', None)
    with pytest.raises(MissingDependencyError,
                       match=r'pixpretrain\[openclip\]'):
        OpenCLIPTokenizer()


def test_inputs_are_checked_as_the_byte_tokenizers_are():
    from pixpretrain.utils.errors import ConfigError
    tokenizer = OpenCLIPTokenizer(context_length=16)
    ids = tokenizer(['a cat', 'a dog'])
    assert tokenizer.decode_batch(ids) == ['a cat', 'a dog']
    with pytest.raises(ConfigError, match='use decode_batch'):
        tokenizer.decode(ids)
    with pytest.raises(ConfigError, match='token id 99999 is outside'):
        tokenizer.decode([99999])
    with pytest.raises(ConfigError, match=r'tokenizer input \[0\] is'):
        tokenizer([None])
    with pytest.raises(ConfigError, match="context_length = '77'"):
        OpenCLIPTokenizer(context_length='77')
