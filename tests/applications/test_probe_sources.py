"""The probe on data a user has: a labelled image folder (through the tool
and the Python API), a config file's data sets, and in-memory tensors."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from pixpretrain.applications.probe import (LabelledSplits, ProbeSettings,
                                            build_probe_splits, random_init,
                                            run_probe)
from pixpretrain.utils import ConfigError

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py')
probe_tool = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/probe.py')))
# Red and blue images of a size that is not the model's (32 x 32) nor
# square: a centre crop would clip them, a resize keeps all of them.
COLOURS = dict(blue=(20, 40, 230), red=(230, 30, 20))


def write_folder(root: Path, per_class=dict(train=6, val=3)) -> Path:
    rng = np.random.default_rng(0)
    for split, count in per_class.items():
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-20, 20, size=(24, 40, 3))
                pixels = np.clip(np.array(colour) + noise, 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(
                    folder / f'{i}.png')
    return root


def check_folder_report(report: dict, root: Path) -> None:
    assert report['data']['name'] == str(root)
    assert report['data']['num_classes'] == 2
    assert report['data']['train'] == dict(total=12, used=12)
    assert report['data']['test'] == dict(total=6, used=6)
    transform = ' '.join(report['data']['transform'])
    assert 'LoadImageFromFile' in transform and 'CenterCrop' not in transform
    # Red against blue: every neighbour of a test image shares its class.
    for row in report['models']['random-init']['layers']:
        assert row['knn']['3'] == 100.0


def test_a_labelled_image_folder_through_the_tool_and_the_api(tmp_path,
                                                              capsys):
    root = write_folder(tmp_path / 'images')
    argv = [TINY, '--data', str(root), '--method', 'knn', '--knn-k', '3',
            '--num-workers', '0', '--out', str(tmp_path / 'out'),
            '--cache-dir', str(tmp_path / 'cache'), '--device', 'cpu']
    assert probe_tool.main(argv) == 0
    from_tool = json.loads((tmp_path / 'out' / 'results.json').read_text())
    check_folder_report(from_tool, root)

    from_api = run_probe(ProbeSettings(
        TINY, data=str(root), methods=['knn'], knn_ks=(3, ),
        num_workers=0, cache_dir=str(tmp_path / 'api_cache')))
    check_folder_report(from_api, root)
    assert from_api['models']['random-init']['layers'] == \
        from_tool['models']['random-init']['layers']


def test_the_eval_transform_is_a_choice(tmp_path):
    root = write_folder(tmp_path / 'images')
    _, test, description = build_probe_splits(str(root), (32, 32),
                                              crop_ratio=0.875)
    assert 'CenterCrop' in ' '.join(description['transform'])
    assert test[0]['inputs'].shape == (3, 32, 32)
    with pytest.raises(ConfigError, match='crop_ratio'):
        build_probe_splits(str(root), (32, 32), crop_ratio=1.5)


def test_a_folder_without_splits_is_refused_with_the_layout(tmp_path,
                                                            capsys):
    (tmp_path / 'flat' / 'red').mkdir(parents=True)
    argv = [TINY, '--data', str(tmp_path / 'flat'),
            '--cache-dir', str(tmp_path / 'cache')]
    assert probe_tool.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and 'DIR/train/<class>' in err
    assert len(err.splitlines()) == 1


def test_the_data_sets_of_a_config_file(tmp_path):
    root = write_folder(tmp_path / 'images')
    config = tmp_path / 'data.py'
    config.write_text(
        f"train_dataloader = dict(dataset=dict(type='ImageFolder', "
        f"data_root='{root}', data_prefix='train', with_label=True, "
        "pipeline=[dict(type='LoadImageFromFile'), "
        "dict(type='RandomFlip')]))\n"
        f"test_dataloader = dict(dataset=dict(type='ImageFolder', "
        f"data_root='{root}', data_prefix='val', with_label=True, "
        "pipeline=[dict(type='LoadImageFromFile')]))\n")
    train, test, description = build_probe_splits(str(config), (32, 32))
    assert (len(train), len(test)) == (12, 6)
    assert description['num_classes'] == 2
    # The probe's deterministic pipeline replaces the config's.
    assert 'RandomFlip' not in ' '.join(description['transform'])
    assert description['datasets']['train']['data_prefix'] == 'train'


def test_a_config_without_labels_is_one_error(tmp_path):
    root = write_folder(tmp_path / 'images')
    config = tmp_path / 'data.py'
    config.write_text('\n'.join(
        f"{loader} = dict(dataset=dict(type='ImageFolder', "
        f"data_root='{root}', data_prefix='{prefix}', with_label=False))"
        for loader, prefix in (('train_dataloader', 'train'),
                               ('test_dataloader', 'val'))) + '\n')
    with pytest.raises(ConfigError, match='names no classes: a probe needs '
                       'a labelled data set'):
        build_probe_splits(str(config), (32, 32))


def test_in_memory_tensors_through_the_api(tmp_path):
    generator = torch.Generator().manual_seed(0)

    def images(labels):
        # Class 0 dark, class 1 bright.
        base = 40 + 170 * labels.view(-1, 1, 1, 1)
        noise = torch.randint(0, 40, (len(labels), 3, 32, 32),
                              generator=generator)
        return (base + noise).to(torch.uint8)

    train_y, test_y = torch.arange(20) % 2, torch.arange(8) % 2
    data = LabelledSplits.from_tensors(images(train_y), train_y,
                                       images(test_y), test_y)
    assert data.num_classes == 2
    report = run_probe(ProbeSettings(TINY, data=data, methods=['knn'],
                                     knn_ks=(3, ), num_workers=0,
                                     cache_dir=str(tmp_path)))
    assert report['data']['cache_id'] == data.cache_id
    assert [row['knn']['3'] for row in
            report['models']['random-init']['layers']] == [100.0, 100.0]
    other = LabelledSplits.from_tensors(images(train_y), train_y,
                                        images(test_y), test_y)
    assert other.cache_id != data.cache_id   # new pixels, new features


def test_the_random_init_is_seeded_and_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first, weights_id = random_init(TINY, seed=3)
    assert torch.equal(torch.rand(1), expected_next)
    second, _ = random_init(TINY, seed=3)
    third, _ = random_init(TINY, seed=4)
    assert weights_id == 'random-init:seed=3'
    key = 'backbone.blocks.0.attn.qkv.weight'
    assert torch.equal(first.state_dict()[key], second.state_dict()[key])
    assert not torch.equal(first.state_dict()[key], third.state_dict()[key])


@pytest.mark.parametrize('change, words', [
    (dict(train_labels=torch.tensor([0, -1])), 'integer labels of 0 or more'),
    (dict(test_labels=torch.tensor([0.5, 1.0])), 'integer labels'),
    (dict(num_classes=1), 'num_classes = 1, but the labels go up to 1'),
    (dict(train_images=torch.rand(2, 3, 8, 8)), 'these are 0-1 floats'),
])
def test_in_memory_splits_refuse_what_would_probe_wrongly(change, words):
    splits = dict(train_images=torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                  train_labels=torch.tensor([0, 1]),
                  test_images=torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                  test_labels=torch.tensor([1, 0]))
    splits.update(change)
    with pytest.raises(ConfigError, match=words):
        LabelledSplits.from_tensors(**splits)
