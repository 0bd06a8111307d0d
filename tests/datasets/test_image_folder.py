"""ImageFolder: the three layouts, label rules and one-line errors."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from pixpretrain.datasets import ImageFolder
from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def _folder(*args, **kwargs) -> ImageFolder:
    # mmengine's serialisation ends in gc.collect(), ~0.2 s with torch
    # loaded; only the tests about the serialised path pay for it.
    kwargs.setdefault('serialize_data', False)
    return ImageFolder(*args, **kwargs)


def _save(path, value=0, mode='RGB', size=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size, size, 3), value, dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return path


@pytest.fixture
def class_tree(tmp_path):
    root = tmp_path / 'train'
    _save(root / 'dog' / 'd1.jpg', 10)
    _save(root / 'dog' / 'd2.PNG', 20)
    _save(root / 'cat' / 'c1.png', 30)
    _save(root / 'cat' / 'nested' / 'c2.JPEG', 40)
    _save(root / 'ant' / 'a1.bmp', 50)
    (root / 'cat' / 'notes.txt').write_text('not an image')
    # macOS resource fork: has an image suffix, is not an image.
    (root / 'dog' / '._d1.jpg').write_bytes(b'\x00\x05\x16\x07')
    return root


def test_class_folders_give_sorted_classes_and_labels(class_tree):
    ds = ImageFolder(str(class_tree), pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('ant', 'cat', 'dog')
    got = {
        os.path.relpath(ds.get_data_info(i)['img_path'], class_tree):
        ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }
    assert got == {
        os.path.join('ant', 'a1.bmp'): 0,
        os.path.join('cat', 'c1.png'): 1,
        os.path.join('cat', 'nested', 'c2.JPEG'): 1,
        os.path.join('dog', 'd1.jpg'): 2,
        os.path.join('dog', 'd2.PNG'): 2,
    }
    sample = ds[0]
    assert sample['inputs'].shape == (3, 32, 32)
    assert sample['inputs'].dtype == torch.uint8
    assert int(sample['data_samples'].gt_label) == 0
    assert sample['data_samples'].img_path.endswith('a1.bmp')


def test_listing_is_sorted_and_deterministic(class_tree):
    ds = ImageFolder(str(class_tree))
    paths = [ds.get_data_info(i)['img_path'] for i in range(5)]
    assert paths == sorted(paths)
    again = _folder(str(class_tree))
    assert [again.get_data_info(i)['img_path'] for i in range(5)] == paths


def test_with_label_false_drops_labels(class_tree):
    ds = _folder(str(class_tree), with_label=False, pipeline=PIPELINE)
    assert len(ds) == 5
    assert all('gt_label' not in ds.get_data_info(i) for i in range(5))
    assert 'gt_label' not in ds[0]['data_samples']


def test_metainfo_classes_fix_label_order(class_tree):
    ds = _folder(str(class_tree),
                     metainfo=dict(classes=['dog', 'cat', 'ant', 'bee']))
    labels = {
        os.path.basename(ds.get_data_info(i)['img_path']):
        ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }
    assert labels['d1.jpg'] == 0 and labels['a1.bmp'] == 2
    with pytest.raises(ConfigError, match='dog'):
        _folder(str(class_tree), metainfo=dict(classes=['ant', 'cat']))


def test_flat_folder_is_unlabelled(tmp_path):
    for i in range(3):
        _save(tmp_path / f'{i}.jpg', i)
    ds = _folder(str(tmp_path), pipeline=PIPELINE)
    assert len(ds) == 3
    assert 'classes' not in ds.metainfo
    sample = ds[2]
    assert 'gt_label' not in sample['data_samples']
    assert sample['inputs'].shape == (3, 32, 32)
    with pytest.raises(ConfigError, match='no class sub-folders'):
        _folder(str(tmp_path), with_label=True)


def test_images_beside_sub_folders_are_all_used_unlabelled(tmp_path):
    _save(tmp_path / 'loose.jpg')
    _save(tmp_path / '2024' / 'a.jpg')
    ds = _folder(str(tmp_path))
    assert len(ds) == 2
    assert 'gt_label' not in ds.get_data_info(0)
    labelled = _folder(str(tmp_path), with_label=True)
    assert len(labelled) == 1 and labelled.metainfo['classes'] == ('2024', )


def test_grayscale_rgba_and_palette_files_load_as_rgb(tmp_path):
    _save(tmp_path / 'gray.png', 100, mode='L')
    _save(tmp_path / 'rgba.png', 100, mode='RGBA')
    _save(tmp_path / 'pal.png', 100, mode='P')
    ds = _folder(str(tmp_path), pipeline=PIPELINE)
    for i in range(3):
        inputs = ds[i]['inputs']
        assert inputs.shape == (3, 32, 32) and inputs.dtype == torch.uint8
        # The web palette has no 100: P mode rounds it to 102.
        assert abs(float(inputs.float().mean()) - 100) <= 3


def test_annotation_list_with_labels(tmp_path):
    _save(tmp_path / 'imgs' / 'a.jpg', 1)
    _save(tmp_path / 'imgs' / 'b b.jpg', 2)
    _save(tmp_path / 'imgs' / 'c.jpg', 3)
    (tmp_path / 'train.txt').write_text(
        '# path label\nimgs/a.jpg 4\n\nimgs/b b.jpg 0\n')
    ds = _folder(str(tmp_path), ann_file='train.txt', pipeline=PIPELINE)
    assert len(ds) == 2
    assert ds.get_data_info(0)['img_path'] == str(tmp_path / 'imgs' / 'a.jpg')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [4, 0]
    assert ds.get_data_info(1)['img_path'].endswith('b b.jpg')
    assert int(ds[1]['data_samples'].gt_label) == 0
    no_labels = _folder(str(tmp_path), ann_file='train.txt',
                            with_label=False)
    assert 'gt_label' not in no_labels.get_data_info(0)


def test_annotation_list_without_labels_and_with_prefix(tmp_path):
    _save(tmp_path / 'imgs' / 'a.jpg')
    _save(tmp_path / 'imgs' / 'b.jpg')
    (tmp_path / 'all.txt').write_text('a.jpg\nb.jpg\n')
    ds = _folder(str(tmp_path), ann_file='all.txt', data_prefix='imgs',
                     pipeline=PIPELINE)
    assert len(ds) == 2 and 'gt_label' not in ds[1]['data_samples']
    with pytest.raises(ConfigError, match='no labels'):
        _folder(str(tmp_path), ann_file='all.txt', with_label=True)


def test_annotation_list_rejects_mixed_labels(tmp_path):
    (tmp_path / 'mixed.txt').write_text('a.jpg 1\nb.jpg\n')
    with pytest.raises(ConfigError, match='line 1 has a label but line 2'):
        _folder(str(tmp_path), ann_file='mixed.txt')


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert '\n' not in message
    assert 'docs/data_preparation.md' in message
    return message


def test_missing_data_root_names_path_and_docs(tmp_path):
    missing = str(tmp_path / 'data' / 'imagenet' / 'train')
    with pytest.raises(DataRootNotFoundError) as exc_info:
        _folder(missing)
    assert missing in _one_line(exc_info)
    # Built from a config, mmengine prefixes the message but keeps the type.
    with pytest.raises(DataRootNotFoundError) as exc_info:
        DATASETS.build(dict(type='ImageFolder', data_root=missing))
    assert missing in _one_line(exc_info)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(DataRootNotFoundError) as exc_info:
        _folder(str(tmp_path), ann_file='meta/train.txt')
    assert os.path.join(str(tmp_path), 'meta', 'train.txt') in _one_line(
        exc_info)


def test_folder_without_images(tmp_path):
    (tmp_path / 'readme.txt').write_text('x')
    with pytest.raises(DataRootNotFoundError, match='holds no images') as e:
        _folder(str(tmp_path))
    assert str(tmp_path) in _one_line(e)
    _save(tmp_path / 'cls' / 'a.jpg')
    (tmp_path / 'empty_cls').mkdir()
    with pytest.raises(DataRootNotFoundError, match='empty_cls') as e:
        _folder(str(tmp_path))
    _one_line(e)


def test_lazy_init_and_subset(class_tree):
    ds = ImageFolder(str(class_tree), lazy_init=True)
    assert not ds._fully_initialized
    ds.full_init()
    assert len(ds) == 5
    sub = _folder(str(class_tree), indices=2)
    assert len(sub) == 2


# --- symlinks -------------------------------------------------------------


@pytest.fixture
def link_warnings(monkeypatch):
    """Messages folder scanning logs in this test."""
    from pixpretrain.datasets import folder_scan as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    return logged


def _classes_and_files(ds):
    return ds.metainfo['classes'], sorted(
        (ds.get_data_info(i)['gt_label'],
         os.path.relpath(ds.get_data_info(i)['img_path'], ds.img_root))
        for i in range(len(ds)))


@pytest.mark.parametrize('link,target', [
    ('a/loop', '..'),  # inside a class, back to the root: mixed classes
    ('a/deep/loop', '../..'),
    ('loop', '.'),  # at the top: a class holding every image
], ids=['class_to_root', 'nested_to_root', 'root_to_itself'])
def test_symlink_loop_is_skipped_with_one_warning(tmp_path, link, target,
                                                  link_warnings):
    root = tmp_path / 'train'
    _save(root / 'a' / 'a0.png')
    _save(root / 'a' / 'a1.png')
    _save(root / 'b' / 'b0.png')
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, root / link)
    ds = _folder(str(root))
    assert _classes_and_files(ds) == (('a', 'b'), [
        (0, 'a/a0.png'), (0, 'a/a1.png'), (1, 'b/b0.png')])
    assert len(link_warnings) == 1, link_warnings
    assert str(root / link) in link_warnings[0]
    assert 'loop' in link_warnings[0] and '\n' not in link_warnings[0]
    # Built again (e.g. a val copy of the same folder): no second warning.
    _folder(str(root))
    assert len(link_warnings) == 1


def test_symlink_loop_in_a_flat_folder_lists_each_image_once(
        tmp_path, link_warnings):
    root = tmp_path / 'flat'
    _save(root / 'x.png')
    _save(root / 'sub' / 'y.png')
    os.symlink('..', root / 'sub' / 'back')
    ds = _folder(str(root), with_label=False)
    assert [os.path.relpath(ds.get_data_info(i)['img_path'], root)
            for i in range(len(ds))] == ['sub/y.png', 'x.png']
    assert len(link_warnings) == 1 and str(root / 'sub' / 'back') in \
        link_warnings[0]


def test_symlinked_class_folders_and_files_are_followed(tmp_path,
                                                        link_warnings):
    # An ImageNet-style farm: class folders and single images linked from
    # storage elsewhere, relative and absolute links alike.
    store = tmp_path / 'store'
    _save(store / 'cats' / 'c0.png', 10)
    _save(store / 'cats' / 'c1.png', 20)
    _save(store / 'loose' / 'd1.png', 30)
    _save(store / 'more_dogs' / 'd2.png', 40)
    root = tmp_path / 'train'
    _save(root / 'dog' / 'd0.png', 50)
    os.symlink(store / 'cats', root / 'cat')
    os.symlink(os.path.join('..', '..', 'store', 'loose', 'd1.png'),
               root / 'dog' / 'd1.png')
    os.symlink(store / 'more_dogs', root / 'dog' / 'more')
    ds = ImageFolder(str(root), pipeline=PIPELINE, serialize_data=False)
    assert _classes_and_files(ds) == (('cat', 'dog'), [
        (0, 'cat/c0.png'), (0, 'cat/c1.png'), (1, 'dog/d0.png'),
        (1, 'dog/d1.png'), (1, 'dog/more/d2.png')])
    assert link_warnings == []
    # The linked file is read through its link.
    assert int(ds[3]['inputs'][0, 0, 0]) == 30


def test_a_root_of_split_folders_is_not_read_as_classes(tmp_path):
    for split in ('train', 'val'):
        _save(tmp_path / split / 'cat' / 'a.png')
    with pytest.raises(ConfigError, match=(
            r"holds split folders \(train, val\) where class folders go: "
            r"point data_root \(or data_prefix\) at one split")):
        _folder(str(tmp_path))
    assert len(_folder(str(tmp_path / 'train'))) == 1
    # one split-named folder among classes is a class like the others
    _save(tmp_path / 'dog' / 'b.png')
    assert len(_folder(str(tmp_path), with_label=True)) == 3
