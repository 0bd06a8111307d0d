"""Zero-shot classification on a case built by hand."""
import math

import pytest
import torch
from torch import nn

from pixpretrain.datasets import ByteTokenizer
from pixpretrain.engine import ZeroShotHook
from pixpretrain.evaluation import (ZeroShotAccuracy,
                                    build_zero_shot_classifier,
                                    zero_shot_accuracy)
from pixpretrain.utils.errors import ConfigError

TOKENIZER = ByteTokenizer(context_length=32)
TEMPLATES = ['a {}', 'the {}']
# Prompt -> text embedding: the two cat prompts disagree, so the cat class
# is their renormalised mean, (1, 1, 0) / sqrt(2).
PROMPTS = {
    'a cat': [1., 0., 0.], 'the cat': [0., 2., 0.],
    'a dog': [0., 0., 1.], 'the dog': [0., 0., 3.],
    'a sports car': [-1., 0., 0.], 'the sports car': [-1., 0., 0.],
}
CLASSES = torch.tensor([[1 / math.sqrt(2), 1 / math.sqrt(2), 0.],
                        [0., 0., 1.], [-1., 0., 0.]])
IMAGES = torch.tensor([[1., 1., 0.],  # cat
                       [0.1, 0., 1.],  # dog
                       [-1., 0.2, 0.],  # car
                       [0., 0.3, -1.]])  # car; scores cat .21, car 0, dog -1
LABELS = torch.tensor([0, 1, 2, 2])


class PromptLookup(nn.Module):
    """Stands in for a CLIP model: embeds text by looking the prompt up."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.calls = 0

    def embed_text(self, tokens):
        self.calls += 1
        assert not self.training
        texts = [TOKENIZER.decode(row.tolist()) for row in tokens]
        return torch.tensor([PROMPTS[t] for t in texts])


def test_classifier_is_the_normalised_mean_of_prompt_embeddings():
    classifier = build_zero_shot_classifier(
        PromptLookup().eval().embed_text, TOKENIZER,
        ['cat', 'dog', 'sports car'], TEMPLATES)
    torch.testing.assert_close(classifier, CLASSES)


def test_accuracy_is_exact_on_the_constructed_case():
    result = zero_shot_accuracy(IMAGES, LABELS, CLASSES, topk=(1, 2, 3))
    assert result == dict(top1=75.0, top2=100.0, top3=100.0)


def test_metric_reads_class_names_from_the_data_set():
    metric = ZeroShotAccuracy(TEMPLATES, dict(type='ByteTokenizer',
                                              context_length=32),
                              topk=(1, 2))
    metric.dataset_meta = dict(classes=('cat', 'dog', 'sports_car'))
    model = PromptLookup().train()
    metric.prepare(model)
    assert model.training and model.calls == 3
    metric.process({}, [dict(image_embedding=e, gt_label=l)
                        for e, l in zip(IMAGES[:3], LABELS[:3])])
    metric.process({}, [dict(image_embedding=IMAGES[3], gt_label=LABELS[3])])
    assert metric.evaluate(4) == {'zero_shot/top1': 75.0,
                                  'zero_shot/top2': 100.0}


def test_metric_without_a_classifier_names_the_hook():
    metric = ZeroShotAccuracy(TEMPLATES, TOKENIZER, class_names=['a', 'b'])
    with pytest.raises(ConfigError, match='ZeroShotHook'):
        metric.process({}, [dict(image_embedding=IMAGES[0], gt_label=0)])


def test_hook_prepares_every_zero_shot_metric():
    metric = ZeroShotAccuracy(TEMPLATES, TOKENIZER,
                              class_names=['cat', 'dog', 'sports car'])

    class Loop:
        evaluator = type('Evaluator', (), dict(metrics=[metric]))

    runner = type('Runner', (), dict(model=PromptLookup(), val_loop=Loop))
    ZeroShotHook().before_val_epoch(runner)
    torch.testing.assert_close(metric.classifier, CLASSES)


def test_topk_beyond_the_classes_fails_clearly():
    with pytest.raises(ConfigError, match='topk'):
        zero_shot_accuracy(IMAGES, LABELS, CLASSES, topk=(5, ))


@pytest.mark.parametrize('class_names,match', [
    ('cat', "class_names = 'cat'"), ([], r'class_names = \[\]'),
    (None, 'class_names = None'), (['cat', 3], r'class_names\[1\]')])
def test_classifier_refuses_class_names_that_are_not_a_list(class_names,
                                                            match):
    with pytest.raises(ConfigError, match=match):
        build_zero_shot_classifier(PromptLookup().eval().embed_text,
                                   TOKENIZER, class_names, TEMPLATES)


def test_classifier_builds_a_tokenizer_config():
    classifier = build_zero_shot_classifier(
        PromptLookup().eval().embed_text,
        dict(type='ByteTokenizer', context_length=32),
        ['cat', 'dog', 'sports car'], TEMPLATES)
    torch.testing.assert_close(classifier, CLASSES)
    with pytest.raises(ConfigError, match="dict\\(type='ByteTokenizer'"):
        build_zero_shot_classifier(PromptLookup().eval().embed_text,
                                   'ByteTokenizer', ['cat'], TEMPLATES)


def test_classifier_given_the_model_asks_for_its_embed_text():
    with pytest.raises(ConfigError, match=r'model\.embed_text'):
        build_zero_shot_classifier(PromptLookup().eval(), TOKENIZER, ['cat'],
                                   TEMPLATES)


def test_metric_refuses_a_str_of_class_names():
    with pytest.raises(ConfigError, match="class_names = 'cat'"):
        ZeroShotAccuracy(TEMPLATES, TOKENIZER, class_names='cat')


@pytest.mark.parametrize('images,labels,match', [
    (IMAGES, torch.tensor([0, 1, 2, 3]), 'label 3 is outside the 3 classes'),
    (IMAGES, torch.tensor([0, 1, -1, 2]), 'label -1 is outside'),
    (IMAGES, torch.tensor([0., 1., 2., 2.]), 'int class indices'),
    (IMAGES[:, :2], LABELS, '2 wide but the classifier is 3'),
    (IMAGES, LABELS[:3], '3 labels for 4 image embeddings'),
    (IMAGES[0], LABELS[:1], r'\(N, E\) image embeddings'),
    (IMAGES[:0], LABELS[:0], 'no images')])
def test_accuracy_refuses_labels_and_shapes_that_do_not_fit(images, labels,
                                                            match):
    with pytest.raises(ConfigError, match=match):
        zero_shot_accuracy(images, labels, CLASSES)


@pytest.mark.parametrize('topk', [(0, ), (1.5, ), (), 'top1', (True, )])
def test_topk_must_be_positive_ints(topk):
    with pytest.raises(ConfigError, match='topk = '):
        zero_shot_accuracy(IMAGES, LABELS, CLASSES, topk=topk)
    with pytest.raises(ConfigError, match='topk = '):
        ZeroShotAccuracy(TEMPLATES, TOKENIZER, topk=topk)


def test_an_int_topk_means_that_k():
    assert zero_shot_accuracy(IMAGES, LABELS, CLASSES, topk=2) == \
        dict(top2=100.0)


def test_metric_refuses_labels_beyond_its_classes():
    metric = ZeroShotAccuracy(TEMPLATES, TOKENIZER,
                              class_names=['cat', 'dog', 'sports car'])
    metric.prepare(PromptLookup())
    with pytest.raises(ConfigError, match='label 7 is outside'):
        metric.process({}, [dict(image_embedding=IMAGES[0], gt_label=7)])
