"""CaptionNamesClass: decoding generated ids, whole-word class names."""
import pytest
import torch

from pixpretrain.datasets import ByteTokenizer
from pixpretrain.evaluation import CaptionNamesClass
from pixpretrain.evaluation.metrics.caption import decode_caption, names_class


@pytest.mark.parametrize('caption, expected', [
    ('a photo of a cat.', True), ('a photo of a dog.', False),
    ('a cat or a dog.', False), ('a category.', False)])
def test_names_class_wants_the_whole_word_and_no_other_class(
        caption, expected):
    assert names_class(caption, 'cat', ['cat', 'dog']) is expected


def test_decoding_stops_at_the_first_end_token():
    tokenizer = ByteTokenizer(context_length=12)
    ids = tokenizer('a cat')[0].tolist()  # start, bytes, end, padding
    ids[7] = ids[3]  # a byte after the end token is not read
    assert decode_caption(ids, tokenizer) == 'a cat'


def test_metric_counts_the_captions_that_name_their_class():
    tokenizer = ByteTokenizer(context_length=16)
    metric = CaptionNamesClass(tokenizer=dict(type='ByteTokenizer',
                                              context_length=16))
    metric.dataset_meta = dict(classes=['cat', 'hot_dog'])
    captions = ['a cat.', 'a hot dog.', 'a cat.', 'a dog.']
    labels = [0, 1, 1, 1]
    samples = [dict(caption_tokens=tokenizer(c)[0],
                    gt_label=torch.tensor([label]))
               for c, label in zip(captions, labels)]
    metric.process(None, samples)
    # Hits: 'a cat.' (cat), 'a hot dog.' ('hot dog'); misses: the others.
    assert metric.compute_metrics(metric.results) == dict(names_class=50.0)
