"""tools/test.py end to end: a tiny fine-tuned classifier and a tiny MoCo
(kNN) are trained for a few iterations, then tested; tools/train.py
--no-validate (seconds each, CPU)."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pixpretrain.apis import init_model
from pixpretrain.datasets import SyntheticShapes

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
CLASSIFIER = str(FIXTURES / 'tiny_classifier.py')
test_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/test.py')))
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


class Names:
    """One experiment name per run: mmengine keys its logger and visualizer
    by config name + timestamp in seconds."""
    runs = 0

    @classmethod
    def next(cls):
        cls.runs += 1
        return ['--cfg-options', f'experiment_name=test_tool{cls.runs}']


def train(*argv):
    assert train_tool.main(list(argv) + Names.next()) == 0


def scalars(work_dir):
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(scope='module')
def classifier_checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('clf')
    train(CLASSIFIER, '--work-dir', str(work_dir))
    return work_dir / 'iter_8.pth'


def test_accuracy_equals_a_hand_count_over_the_test_set(
        classifier_checkpoint, tmp_path, capsys):
    out = tmp_path / 'metrics.json'
    code = test_tool.main([CLASSIFIER, str(classifier_checkpoint),
                           '--work-dir', str(tmp_path / 'w'), '--out',
                           str(out)] + Names.next())
    assert code == 0
    metrics = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.rindex('\n{\n'):]) == metrics
    # Independent reference: the checkpoint's predictions over the same 32
    # test images (tiny_classifier's val data), counted by hand.
    model = init_model(CLASSIFIER, str(classifier_checkpoint))
    data = SyntheticShapes(num_samples=32, split='test',
                           pipeline=[dict(type='PackInputs')])
    batch = model.data_preprocessor(
        dict(inputs=torch.stack([data[i]['inputs'] for i in range(32)]),
             data_samples=[data[i]['data_samples'] for i in range(32)]))
    with torch.no_grad():
        samples = model(**batch, mode='predict')
    correct = sum(int(s.pred_label) == int(s.gt_label) for s in samples)
    assert metrics['accuracy/top1'] == pytest.approx(100 * correct / 32)
    assert metrics['accuracy/top1'] <= metrics['accuracy/top5']


def test_knn_config_is_tested_with_its_feature_bank(tmp_path, capsys):
    config = str(FIXTURES / 'tiny_moco.py')
    train(config, '--work-dir', str(tmp_path), '--no-validate')
    # --no-validate: the kNN monitor the config asks for never ran.
    assert not any('knn/top1' in r for r in scalars(tmp_path))
    capsys.readouterr()
    code = test_tool.main([config, str(tmp_path / 'iter_4.pth'),
                           '--work-dir', str(tmp_path / 'test')] +
                          Names.next())
    assert code == 0
    printed = capsys.readouterr().out
    metrics = json.loads(printed[printed.rindex('\n{\n'):])
    assert set(metrics) == {'knn/top1', 'knn_backbone/top1'}
    # 20 queries: every accuracy is a multiple of 5 %.
    for value in metrics.values():
        assert 0 <= value <= 100 and value / 5 == pytest.approx(
            round(value / 5), abs=1e-4)


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    code = test_tool.main([CLASSIFIER, str(tmp_path / 'nope.pth')])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count('\n') == 1 and 'nope.pth' in err
    assert 'no such file' in err and 'Traceback' not in err


def test_config_without_test_or_val_is_one_line(classifier_checkpoint,
                                                  capsys):
    code = test_tool.main([str(FIXTURES / 'tiny_mae.py'),
                           str(classifier_checkpoint)])
    err = capsys.readouterr().err
    assert code == 1 and err.count('\n') == 1
    assert 'test_dataloader' in err and 'val_cfg' in err


def test_a_checkpoint_of_another_model_is_refused_not_tested(
        classifier_checkpoint, tmp_path, capsys):
    # A wider head: mmengine alone would warn in the log and test the
    # random weights it could not load.
    wider = tmp_path / 'wider.py'
    wider.write_text(f"_base_ = ['{CLASSIFIER}']\n"
                     'model = dict(head=dict(num_classes=12))\n')
    code = test_tool.main([str(wider), str(classifier_checkpoint),
                           '--work-dir', str(tmp_path / 'w')])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert 'does not fit ImageClassifier' in err[0]
    # checkpoint vs model
    assert 'head.fc.weight (10, 32) vs (12, 32)' in err[0]


def test_no_validate_skips_validation(tmp_path):
    train(CLASSIFIER, '--work-dir', str(tmp_path), '--no-validate')
    records = scalars(tmp_path)
    assert any('loss' in r for r in records)
    assert not any('accuracy/top1' in r for r in records)
