from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.evaluator import Evaluator
from torch.utils.data import DataLoader

from pixpretrain.datasets import SyntheticShapes
from pixpretrain.engine import KNNValLoop
from pixpretrain.evaluation import KNNAccuracy, knn_accuracy
from pixpretrain.models import MoCo
from pixpretrain.utils.errors import ConfigError


def _samples(features, labels):
    return [dict(feature=f, gt_label=torch.as_tensor(l))
            for f, l in zip(features, labels)]


def test_metric_scores_queries_against_the_bank():
    generator = torch.Generator().manual_seed(0)
    bank = torch.randn(40, 6, generator=generator)
    bank_labels = torch.randint(0, 4, (40, ), generator=generator)
    queries = torch.randn(15, 6, generator=generator)
    labels = torch.randint(0, 4, (15, ), generator=generator)
    metric = KNNAccuracy(k=7, temperature=0.2, topk=(1, 4), num_classes=4)
    metric.set_bank(bank, bank_labels)
    metric.process(None, _samples(queries[:8], labels[:8]))
    metric.process(None, _samples(queries[8:], labels[8:]))
    result = metric.evaluate(15)
    assert result['knn/top1'] == pytest.approx(
        knn_accuracy(bank, bank_labels, queries, labels, 4, k=7,
                     temperature=0.2))
    assert result['knn/top4'] == 100.0  # every one of 4 classes is in top 4


def test_metric_needs_a_bank_and_its_feature():
    metric = KNNAccuracy(feature_key='projection')
    with pytest.raises(ConfigError, match="'projection'"):
        metric.process(None, _samples(torch.zeros(1, 2), [0]))
    bare = KNNAccuracy()
    bare.process(None, _samples(torch.zeros(1, 2), [0]))
    with pytest.raises(ConfigError, match='KNNValLoop'):
        bare.compute_metrics(bare.results)
    with pytest.raises(ConfigError, match='temperature'):
        KNNAccuracy(temperature=0)


def _loader(split, count):
    dataset = SyntheticShapes(num_samples=count, img_size=16, split=split,
                              pipeline=[dict(type='PackInputs')])
    return DataLoader(dataset, batch_size=8, collate_fn=default_collate)


def _tiny_moco() -> MoCo:
    torch.manual_seed(0)
    return MoCo(
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=16,
                  out_channels=8),
        head=dict(type='MoCoQueueHead', feat_dim=8, queue_len=16))


def test_val_loop_extracts_the_bank_with_the_model_then_scores():
    model = _tiny_moco()
    metrics = [KNNAccuracy(k=5, feature_key='projection'),
               KNNAccuracy(k=5, prefix='knn_backbone')]
    hooks = []
    runner = SimpleNamespace(
        model=model, visualizer=SimpleNamespace(),
        call_hook=lambda name, **kwargs: hooks.append(name))
    loop = KNNValLoop(runner, _loader('test', 12), Evaluator(metrics),
                      bank_dataloader=_loader('train', 20))
    result = loop.run()
    assert hooks[:2] == ['before_val', 'before_val_epoch']

    def features(loader, key):
        outputs = [s for batch in loader for s in model.val_step(batch)]
        return (torch.stack([s.get(key) for s in outputs]),
                torch.stack([s.gt_label for s in outputs]))

    for key, prefix in (('projection', 'knn'), ('feature', 'knn_backbone')):
        bank, bank_labels = features(loop.bank_dataloader, key)
        queries, labels = features(loop.dataloader, key)
        torch.testing.assert_close(metrics[0 if key == 'projection' else 1]
                                   ._bank[0], bank)
        assert result[f'{prefix}/top1'] == pytest.approx(
            knn_accuracy(bank, bank_labels, queries, labels, 10, k=5))


def test_a_feature_key_the_model_lacks_stops_the_bank_in_one_line():
    model = _tiny_moco()
    runner = SimpleNamespace(
        model=model, visualizer=SimpleNamespace(),
        call_hook=lambda name, **kwargs: None)
    loop = KNNValLoop(runner, _loader('test', 4),
                      Evaluator([KNNAccuracy(feature_key='projektion')]),
                      bank_dataloader=_loader('train', 4))
    with pytest.raises(ConfigError, match=(
            r"^KNNAccuracy reads 'projektion' from the model's predictions, "
            r"which hold \[.*'projection'.*\]: set its feature_key")):
        loop.run()


def test_val_loop_without_a_bank_metric_is_a_config_error():
    runner = SimpleNamespace(visualizer=SimpleNamespace())
    from mmengine.evaluator import BaseMetric

    class Count(BaseMetric):
        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    with pytest.raises(ConfigError, match='KNNAccuracy'):
        KNNValLoop(runner, _loader('test', 4), Evaluator([Count()]),
                   bank_dataloader=_loader('train', 4))
