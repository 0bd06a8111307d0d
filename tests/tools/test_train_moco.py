"""MoCo through tools/train.py: trains, monitors kNN, resumes exactly."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_moco.py')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def records(work_dir):
    return [json.loads(line) for log in Path(work_dir).glob(
        '*/vis_data/scalars.json') for line in log.read_text().splitlines()]


def test_trains_monitors_knn_and_resumes_queue_and_key_encoder(tmp_path):
    # Without shuffle-BN the model draws no torch random numbers, so a
    # resumed run must end exactly where the uninterrupted one did.
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    assert train_tool.main([
        TINY, '--work-dir', str(full), '--cfg-options',
        'experiment_name=moco_full', 'model.shuffle_bn=False']) == 0
    logs = records(full)
    losses = [r['loss'] for r in logs if 'loss' in r]
    momenta = [r['momentum'] for r in logs if 'momentum' in r]
    assert len(losses) == 4 and momenta == [pytest.approx(0.99)] * 4
    (val, ) = [r for r in logs if 'knn/top1' in r]
    assert 0 <= val['knn/top1'] <= 100
    assert 0 <= val['knn_backbone/top1'] <= 100

    assert train_tool.main([
        TINY, '--work-dir', str(resumed), '--resume',
        str(full / 'iter_2.pth'), '--cfg-options',
        'experiment_name=moco_resumed', 'model.shuffle_bn=False']) == 0
    halfway = torch.load(full / 'iter_2.pth',
                         weights_only=False)['state_dict']
    expected = torch.load(full / 'iter_4.pth',
                          weights_only=False)['state_dict']
    got = torch.load(resumed / 'iter_4.pth', weights_only=False)['state_dict']
    assert got['head.queue'].shape == (20, 16)
    assert got['head.queue_ptr'].item() == (4 * 8) % 20
    for key in ('head.queue', 'head.queue_ptr',
                'momentum_encoder.backbone.layer4.1.conv2.weight',
                'momentum_encoder.backbone.bn1.running_mean',
                'momentum_encoder.neck.mlp.0.weight', 'backbone.conv1.weight'):
        assert torch.equal(got[key], expected[key]), key
    # Rows written at step 2 and not overwritten since are the checkpoint's:
    # the queue was restored, not drawn afresh.
    torch.testing.assert_close(got['head.queue'][12:16],
                               halfway['head.queue'][12:16])
    assert not torch.equal(halfway['momentum_encoder.neck.mlp.0.weight'],
                           halfway['neck.mlp.0.weight'])


def test_a_pipeline_without_two_views_is_one_line(tmp_path, capsys):
    config = tmp_path / 'one_view.py'
    config.write_text(
        f"_base_ = ['{TINY}']\n"
        "train_dataloader = dict(dataset=dict(pipeline=["
        "dict(type='PackInputs')]))\n")
    assert train_tool.main([str(config), '--work-dir',
                            str(tmp_path / 'w')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        'error: MoCo needs two views of each image (a MultiView transform')

