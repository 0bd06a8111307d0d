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
