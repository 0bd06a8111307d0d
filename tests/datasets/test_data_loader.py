"""Batches through torch's DataLoader with mmengine's default_collate, the
way the configs use them."""
import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from PIL import Image
from torch.utils.data import DataLoader

from pixpretrain.datasets import ImageFolder, SyntheticShapes

TRAIN_PIPELINE = [
    dict(type='RandomResizedCrop', size=32, scale=(0.2, 1.0)),
    dict(type='RandomFlip'),
    dict(type='PackInputs'),
]


def _check_batch(batch, size=4, labelled=True):
    inputs = batch['inputs']
    assert inputs.shape == (size, 3, 32, 32) and inputs.dtype == torch.uint8
    samples = batch['data_samples']
    assert isinstance(samples, list) and len(samples) == size
    assert all(isinstance(s, BaseDataElement) for s in samples)
    assert all(('gt_label' in s) == labelled for s in samples)


def test_default_collate_over_synthetic_shapes():
    ds = SyntheticShapes(num_samples=10, pipeline=TRAIN_PIPELINE)
    loader = DataLoader(ds, batch_size=4, collate_fn=default_collate)
    batches = list(loader)
    _check_batch(batches[0])
    assert [len(b['data_samples']) for b in batches] == [4, 4, 2]
    assert [int(s.gt_label) for s in batches[0]['data_samples']] == [0, 1, 2,
                                                                      3]


def test_worker_processes_over_an_unlabelled_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):
        size = (int(rng.integers(24, 64)), int(rng.integers(24, 64)))
        Image.fromarray(rng.integers(0, 256, size + (3, ),
                                     dtype=np.uint8)).save(tmp_path /
                                                           f'{i}.jpg')
    ds = ImageFolder(str(tmp_path),
                     pipeline=[dict(type='LoadImageFromFile')] +
                     TRAIN_PIPELINE)
    loader = DataLoader(ds, batch_size=4, num_workers=2,
                        collate_fn=default_collate)
    for batch in loader:
        _check_batch(batch, labelled=False)


def test_runner_builds_the_config_dataloader():
    cfg = dict(
        batch_size=4,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='default_collate'),
        dataset=dict(type='SyntheticShapes', num_samples=12,
                     pipeline=TRAIN_PIPELINE))
    # Configs set default_scope='pixpretrain'; the Runner builds with it.
    with DefaultScope.overwrite_default_scope('pixpretrain'):
        loader = Runner.build_dataloader(cfg, seed=0)
    assert isinstance(loader.dataset, SyntheticShapes)
    _check_batch(next(iter(loader)))


def test_workers_draw_their_own_augmentations():
    pipeline = [
        dict(type='RandomResizedCrop', size=32),
        dict(type='PackInputs', meta_keys=('crop_bbox', ))
    ]
    cfg = dict(
        batch_size=4,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(type='SyntheticShapes', num_samples=8,
                     pipeline=pipeline))
    with DefaultScope.overwrite_default_scope('pixpretrain'):
        loader = Runner.build_dataloader(cfg, seed=0)
    epochs = [[[s.crop_bbox for s in batch['data_samples']]
               for batch in loader] for _ in range(2)]
    # Batch 0 comes from worker 0 and batch 1 from worker 1: mmengine seeds
    # numpy differently per worker, and the transforms draw from it.
    assert epochs[0][0] != epochs[0][1]
    # Persistent workers carry their RNG state into the next epoch.
    assert epochs[0] != epochs[1]
