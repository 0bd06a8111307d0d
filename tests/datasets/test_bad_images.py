"""Bad image files in a folder: odd modes are converted, tiny images still
give full-size crops, unreadable files are skipped, named and counted, and
too many of them stop the run with one clear line."""
import copy
import struct
import zlib

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from PIL import Image
from torch.utils.data import DataLoader

from pixpretrain.datasets import (CIFAR10, BadImageBudget, ImageCaptionManifest,
                                  ImageFolder, PromptCaptions)
from pixpretrain.datasets import bad_images as bad_images_module
from pixpretrain.datasets.transforms import (LoadImageFromFile,
                                             LoadRandomResizedCrop,
                                             RandomResizedCrop)
from pixpretrain.registry import explain
from pixpretrain.utils.errors import (BadDataError, ConfigError,
                                      UnreadableImageError)

LOAD = [dict(type='LoadImageFromFile')]


def _solid(path, rgb, size=(16, 16), mode='RGB', **save_args):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new('RGB', size, tuple(rgb))
    image.convert(mode).save(path, **save_args)
    return path


def _png16(path, values):
    """A 16-bit PNG written by hand (PIL writes no 16-bit RGB): ``values``
    is (H, W) grey or (H, W, 3) RGB uint16."""
    h, w = values.shape[:2]
    colour_type = 0 if values.ndim == 2 else 2
    rows = b''.join(b'\x00' + values[y].astype('>u2').tobytes()
                    for y in range(h))

    def chunk(tag, data):
        crc = zlib.crc32(tag + data) & 0xffffffff
        return struct.pack('>I', len(data)) + tag + data + struct.pack(
            '>I', crc)

    header = struct.pack('>IIBBBBB', w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                     chunk(b'IDAT', zlib.compress(rows)) +
                     chunk(b'IEND', b''))
    return path


def _bad_files(folder):
    """The three kinds of unreadable file, named to sort first."""
    folder.mkdir(parents=True, exist_ok=True)
    empty = folder / '0_empty.jpg'
    empty.write_bytes(b'')
    text = folder / '0_text.jpg'
    text.write_text('this is a text file, not a JPEG\n')
    whole = _solid(folder / 'whole.jpg', (90, 60, 30), size=(64, 48),
                   format='JPEG', quality=90).read_bytes()
    truncated = folder / '0_truncated.jpg'
    truncated.write_bytes(whole[:len(whole) // 2])
    (folder / 'whole.jpg').unlink()
    return [str(empty), str(text), str(truncated)]


def _good_files(folder, count):
    return [
        str(_solid(folder / f'good_{i:03d}.png', (i, 2 * i % 256, 7)))
        for i in range(count)
    ]


@pytest.fixture
def warnings(monkeypatch):
    """Messages the budget logs in this process."""
    logged = []
    monkeypatch.setattr(bad_images_module, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    return logged


# --- modes ----------------------------------------------------------------


def _mode_files(folder):
    """(file, expected RGB) for every awkward mode, the expectation worked
    out by hand rather than by PIL's conversion."""
    c, m, y, k = 10, 200, 30, 40
    cmyk = Image.new('CMYK', (16, 16), (c, m, y, k))
    cmyk.save(folder / 'cmyk.jpg', quality=95)
    # CMYK -> RGB: each channel (255 - ink) * (255 - k) / 255.
    cmyk_rgb = [round((255 - ink) * (255 - k) / 255) for ink in (c, m, y)]
    rgba = Image.new('RGBA', (16, 16), (200, 100, 50, 9))
    rgba.save(folder / 'rgba.png')
    Image.new('L', (16, 16), 77).save(folder / 'gray.jpg', quality=95)
    palette = Image.new('P', (16, 16), 3)
    palette.putpalette([0, 0, 0] * 3 + [12, 34, 56] + [0, 0, 0] * 252)
    palette.info['transparency'] = 0
    palette.save(folder / 'palette.png', transparency=0)
    _png16(folder / 'gray16.png', np.full((16, 16), 0xAB12, np.uint16))
    _png16(folder / 'rgb16.png',
           np.broadcast_to(np.array([0x1234, 0x80FF, 0xFE01], np.uint16),
                           (16, 16, 3)).copy())
    return {
        'cmyk.jpg': cmyk_rgb,
        'rgba.png': [200, 100, 50],
        'gray.jpg': [77, 77, 77],
        'palette.png': [12, 34, 56],
        # 16 bits per channel keep their high byte.
        'gray16.png': [0xAB] * 3,
        'rgb16.png': [0x12, 0x80, 0xFE],
    }


@pytest.mark.parametrize('loader', [
    dict(type='LoadImageFromFile'),
    dict(type='LoadRandomResizedCrop', size=8, scale=(0.5, 1.0)),
])
def test_every_mode_loads_as_the_right_rgb(tmp_path, loader):
    expected = _mode_files(tmp_path)
    ds = ImageFolder(str(tmp_path), pipeline=[loader], serialize_data=False)
    assert len(ds) == len(expected)
    for i in range(len(ds)):
        sample = ds[i]
        img = sample['img']
        name = sample['img_path'].rsplit('/', 1)[-1]
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        # JPEG stores colour approximately; PNG exactly.
        tolerance = 3 if name.endswith('.jpg') else 0
        diff = np.abs(img.astype(int) - np.array(expected[name]))
        assert diff.max() <= tolerance, (name, img[0, 0], expected[name])
    assert ds.bad_images.num_unreadable == 0


# --- tiny images ----------------------------------------------------------


@pytest.mark.parametrize('size', [(1, 1), (3, 2), (5, 31), (31, 5)])
@pytest.mark.parametrize('fused', [False, True])
def test_images_smaller_than_the_crop_are_upsampled(tmp_path, size, fused):
    path = str(_solid(tmp_path / 'tiny.jpg', (40, 160, 220), size=size,
                      quality=100))
    np.random.seed(0)
    crop = dict(size=32, scale=(0.2, 1.0), interpolation='bicubic')
    if fused:
        out = LoadRandomResizedCrop(**crop)(dict(img_path=path))
    else:
        out = RandomResizedCrop(**crop)(
            LoadImageFromFile()(dict(img_path=path)))
    assert out['img'].shape == (32, 32, 3)
    assert out['img_shape'] == (32, 32)
    # A flat colour stays that colour when upsampled (JPEG rounding aside).
    stored = np.asarray(Image.open(path).convert('RGB'))[0, 0]
    assert np.abs(out['img'].astype(int) - stored).max() <= 1


def test_a_ratio_range_far_from_one_still_crops_one_pixel_images(tmp_path):
    img = np.full((1, 1, 3), 9, np.uint8)
    out = RandomResizedCrop(8, ratio=(3.0, 4.0))(dict(img=img))
    assert out['img'].shape == (8, 8, 3) and (out['img'] == 9).all()


# --- skipping and counting ------------------------------------------------


def test_unreadable_files_are_skipped_named_and_counted(tmp_path, warnings):
    bad = _bad_files(tmp_path)
    good = _good_files(tmp_path, 37)
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, max_bad_fraction=0.1,
                     serialize_data=False)
    assert len(ds) == 40
    np.random.seed(0)
    samples = [ds[i] for i in range(len(ds))]
    # Nothing but good images came out, each whole.
    assert {s['img_path'] for s in samples} <= set(good)
    assert all(s['img'].shape == (16, 16, 3) for s in samples)
    # Every attempt counted: 40 samples read, plus each time a bad file
    # was met (redraws may meet one again); one warning per bad file.
    assert ds.bad_images.num_read == 40
    assert ds.bad_images.num_unreadable >= 3 == len(warnings)
    for path in bad:
        assert any(f"skipping unreadable image '{path}'" in w
                   for w in warnings)
    assert 'max_bad_fraction = 0.1' in warnings[-1]


def test_each_file_is_warned_about_once_per_process(tmp_path, warnings):
    bad = _bad_files(tmp_path)[0]
    _good_files(tmp_path, 30)
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, max_bad_fraction=0.5,
                     serialize_data=False)
    assert ds.get_data_info(0)['img_path'] == bad
    for _ in range(3):
        ds[0]
    assert ds.bad_images.num_unreadable >= 3
    assert sum(bad in w for w in warnings) == 1


def test_the_first_bad_file_of_a_large_set_is_not_judged_alone(tmp_path):
    # 1 bad in 41 is below 10 %, though it is 1 of 1 when met first.
    _bad_files(tmp_path / 'x')
    (tmp_path / 'x' / '0_empty.jpg').rename(tmp_path / '0_empty.jpg')
    _good_files(tmp_path, 40)
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, max_bad_fraction=0.1,
                     extensions=('.jpg', '.png'), with_label=False,
                     serialize_data=False)
    ds.full_init()
    assert ds.get_data_info(0)['img_path'].endswith('0_empty.jpg')
    assert ds[0]['img_path'] != ds.get_data_info(0)['img_path']


def test_the_budget_is_the_fraction_of_the_larger_of_met_and_size():
    # 100 images, every other one bad, met in order: with 0.05 the budget is
    # 5 bad files until 100 have been met, so the 6th bad file (the 12th
    # image met) stops the run long before the epoch ends.
    budget = BadImageBudget(0.05)
    with pytest.raises(BadDataError) as exc_info:
        for i in range(100):
            if i % 2 == 0:
                budget.count_read()
            else:
                budget.count_unreadable(
                    UnreadableImageError(f"unreadable image '{i}.jpg': x"),
                    num_samples=100)
    assert (budget.num_read, budget.num_unreadable) == (6, 6)
    message = str(exc_info.value)
    assert '\n' not in message
    assert message == (
        'too many unreadable images: 6 of the 12 met so far (50.0 %) in a '
        'data set of 100, above max_bad_fraction = 0.05; the last: '
        "unreadable image '11.jpg': x. Replace or delete the broken files, "
        'or raise max_bad_fraction (see docs/data_preparation.md)')
    # Past one data set's worth, the budget is the fraction of those met:
    # 5 % of 300 allows 15 more.
    budget = BadImageBudget(0.05)
    for _ in range(285):
        budget.count_read()
    for i in range(15):
        budget.count_unreadable(UnreadableImageError(f'{i}'), 100)
    with pytest.raises(BadDataError, match='16 of the 301 met'):
        budget.count_unreadable(UnreadableImageError('last'), 100)


def test_a_mostly_broken_folder_stops_in_the_first_epoch(tmp_path):
    for i in range(50):
        _solid(tmp_path / f'{i:03d}_a.png', (i, i, i))
        (tmp_path / f'{i:03d}_b.jpg').write_bytes(b'')
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, max_bad_fraction=0.05,
                     serialize_data=False)
    np.random.seed(0)
    with pytest.raises(BadDataError, match='^too many unreadable images: 6 '):
        for i in range(len(ds)):
            ds[i]
    assert ds.bad_images.num_read < 20


def test_max_bad_fraction_zero_fails_fast_naming_the_file(tmp_path):
    bad = _bad_files(tmp_path)
    _good_files(tmp_path, 5)
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, max_bad_fraction=0,
                     serialize_data=False)
    with pytest.raises(BadDataError) as exc_info:
        ds[0]
    assert str(exc_info.value).startswith(f"unreadable image '{bad[0]}': ")
    assert 'max_bad_fraction = 0 stops at the first' in str(exc_info.value)
    assert ds.bad_images.num_unreadable == 1


def test_test_mode_never_replaces_a_sample(tmp_path):
    bad = _bad_files(tmp_path)
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, test_mode=True,
                     serialize_data=False)
    with pytest.raises(UnreadableImageError,
                       match=f"^unreadable image '{bad[0]}'"):
        ds[0]


@pytest.mark.parametrize('value', [-0.1, 1.5, True, 'a lot', None])
def test_max_bad_fraction_out_of_range_names_key_and_range(tmp_path, value):
    _good_files(tmp_path, 1)
    with pytest.raises(ConfigError) as exc_info:
        ImageFolder(str(tmp_path), max_bad_fraction=value)
    assert str(exc_info.value).startswith(f'max_bad_fraction = ')
    assert '(allowed: 0 <= max_bad_fraction <= 1;' in str(exc_info.value)


def test_a_copied_data_set_counts_on_its_own():
    budget = BadImageBudget(0.2)
    budget.count_read()
    copied = copy.deepcopy(budget)
    assert copied.max_bad_fraction == 0.2
    assert copied.num_read == 0 and budget.num_read == 1
    assert copied._counts.is_shared()


# --- DataLoader workers ---------------------------------------------------


# Spawned workers receive the data set pickled; one is enough to show the
# counts still reach the main process (each costs seconds to start).
@pytest.mark.parametrize('context, num_workers', [('fork', 2), ('spawn', 1)])
def test_counts_from_every_worker_reach_the_main_process(
        tmp_path, context, num_workers):
    _bad_files(tmp_path)
    _good_files(tmp_path, 29)
    ds = ImageFolder(str(tmp_path),
                     pipeline=LOAD + [dict(type='PackInputs')],
                     max_bad_fraction=0.2)
    loader = DataLoader(ds, batch_size=4, num_workers=num_workers,
                        collate_fn=default_collate,
                        multiprocessing_context=context)
    images = torch.cat([batch['inputs'] for batch in loader])
    assert images.shape == (32, 3, 16, 16)
    assert ds.bad_images.num_read == 32
    # Each bad index was tried at least once, in some worker.
    assert ds.bad_images.num_unreadable >= 3


def test_a_worker_stopping_the_run_explains_itself_in_one_line(tmp_path):
    bad = _bad_files(tmp_path)
    _good_files(tmp_path, 5)
    ds = ImageFolder(str(tmp_path), pipeline=LOAD, max_bad_fraction=0)
    loader = DataLoader(ds, batch_size=2, num_workers=2,
                        collate_fn=pseudo_collate)
    batches = iter(loader)
    with pytest.raises(BadDataError) as exc_info:
        list(batches)
    batches._shutdown_workers()  # now, not whenever it is collected
    # torch re-raises with the worker's traceback; explain() keeps our line.
    assert 'Original Traceback' in str(exc_info.value)
    line = explain(exc_info.value)
    assert '\n' not in line
    assert line.startswith("unreadable image '") and line.split("'")[1] in bad
    assert line.endswith('(see docs/data_preparation.md)')


# --- the other data sets that read image files ----------------------------


def test_cifar_image_folder_copy_skips_bad_files(tmp_path, warnings):
    for name in 'abcdefghij':
        _good_files(tmp_path / 'train' / name, 2)
    bad = _bad_files(tmp_path / 'train' / 'j')
    ds = CIFAR10(str(tmp_path), max_bad_fraction=0.2, serialize_data=False)
    samples = [ds[i] for i in range(len(ds))]
    assert len(samples) == 23
    assert all(s['img'].shape == (16, 16, 3) for s in samples)
    assert ds.bad_images.num_read == 23
    assert ds.bad_images.num_unreadable >= 3
    assert all(any(path in w for w in warnings) for path in bad)


def test_caption_manifest_skips_bad_files(tmp_path, warnings):
    bad = _bad_files(tmp_path)
    good = _good_files(tmp_path, 20)
    lines = [f'{{"image": "{p}", "caption": "a picture"}}'
             for p in bad + good]
    (tmp_path / 'pairs.jsonl').write_text('\n'.join(lines))
    ds = ImageCaptionManifest('pairs.jsonl', data_root=str(tmp_path),
                              pipeline=LOAD, max_bad_fraction=0.2,
                              serialize_data=False)
    paths = {ds[i]['img_path'] for i in range(len(ds))}
    assert paths <= set(good)
    assert ds.bad_images.num_unreadable >= 3


def test_prompt_captions_skip_bad_files(tmp_path, warnings):
    _good_files(tmp_path / 'cat', 20)
    bad = _bad_files(tmp_path / 'cat')
    ds = PromptCaptions(
        dict(type='ImageFolder', data_root=str(tmp_path),
             serialize_data=False),
        pipeline=LOAD, max_bad_fraction=0.2)
    samples = [ds[i] for i in range(len(ds))]
    assert all(s['img_path'] not in bad for s in samples)
    assert ds.bad_images.num_read == len(ds) == 23
    assert all(any(path in w for w in warnings) for path in bad)
