"""CaptionNamesClass: decoding generated ids, whole-word class names;
CaptionNLL: per-token NLL over the whole set."""
import math

import pytest
import torch

from pixpretrain.datasets import ByteTokenizer
from pixpretrain.evaluation import CaptionNamesClass, CaptionNLL
from pixpretrain.evaluation.metrics.caption import decode_caption, names_class
from pixpretrain.utils.errors import ConfigError


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


def test_nll_is_per_token_over_the_set_not_a_mean_of_captions():
    metric = CaptionNLL()
    metric.process(None, [
        dict(caption_nll=torch.tensor(2.0), caption_scored=torch.tensor(4)),
        dict(caption_nll=torch.tensor(1.0), caption_scored=torch.tensor(1))])
    # 3 nats over 5 tokens; the mean of the captions' means would be 0.75.
    result = metric.compute_metrics(metric.results)
    assert result['nll'] == pytest.approx(0.6)
    assert result['perplexity'] == pytest.approx(math.exp(0.6))


def test_nll_without_scored_captions_names_what_is_missing():
    with pytest.raises(ConfigError, match='TokenizeText in the pipeline'):
        CaptionNLL().process(None, [dict(caption_tokens=torch.zeros(4))])


def test_a_diverged_or_empty_set_gives_inf_or_nan_not_a_crash(monkeypatch):
    from pixpretrain.evaluation.metrics import caption
    warnings = []
    monkeypatch.setattr(caption, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    metric = CaptionNLL()
    diverged = metric.compute_metrics([(800.0 * 3, 3)])
    assert diverged == dict(nll=800.0, perplexity=math.inf)
    empty = metric.compute_metrics([(0.0, 0)])
    assert math.isnan(empty['nll']) and math.isnan(empty['perplexity'])
    assert len(warnings) == 1 and 'no token to score' in warnings[0]


def test_samples_without_a_label_are_left_out_and_said(monkeypatch):
    from pixpretrain.evaluation.metrics import caption
    warnings = []
    monkeypatch.setattr(caption, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    tokenizer = ByteTokenizer(context_length=16)
    metric = CaptionNamesClass(tokenizer, class_names=['cat', 'dog'])
    metric.process(None, [
        dict(caption_tokens=tokenizer('a cat.')[0], gt_label=0),
        dict(caption_tokens=tokenizer('a dog.')[0], gt_label=0),
        dict(caption_tokens=tokenizer('a dog.')[0])])
    assert metric.compute_metrics(metric.results) == dict(names_class=50.0)
    assert len(warnings) == 1 and '1 of 3 samples have no gt_label' in \
        warnings[0]
    assert math.isnan(metric.compute_metrics(
        [('a cat.', -1)])['names_class'])


def test_a_nan_nll_has_a_nan_perplexity():
    result = CaptionNLL().compute_metrics([(math.nan, 3)])
    assert math.isnan(result['nll']) and math.isnan(result['perplexity'])
