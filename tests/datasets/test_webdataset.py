"""Tar shards: written by make_shards, read back as a split stream."""
import io
import json
import runpy
import tarfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from pixpretrain.datasets import WebDatasetShards
from pixpretrain.datasets.webdataset import expand_shards, split_member_name
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError

REPO = Path(__file__).resolve().parents[2]
make_shards = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/dataset_converters/make_shards.py')))

NUM = 10


@pytest.fixture
def manifest(tmp_path):
    """NUM JPEGs with two captions each, listed in a manifest."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(NUM):
        img = rng.integers(0, 256, (8 + i, 9, 3), dtype=np.uint8)
        Image.fromarray(img).save(tmp_path / f'{i}.jpg', quality=90)
        lines.append(json.dumps(dict(image=f'{i}.jpg',
                                     caption=[f'image {i}', f'pic {i}'])))
    (tmp_path / 'm.jsonl').write_text('\n'.join(lines))
    return tmp_path


def shards_of(manifest, tmp_path, shard_size):
    out = tmp_path / f'shards{shard_size}'
    assert make_shards.main([str(out), '--manifest',
                             str(manifest / 'm.jsonl'), '--shard-size',
                             str(shard_size)]) == 0
    return out


def by_caption(samples):
    return {s['captions'][0]: s for s in samples}


def test_round_trip_keeps_pixels_and_captions(manifest, tmp_path):
    out = shards_of(manifest, tmp_path, 4)
    index = json.loads((out / 'index.json').read_text())
    assert [s['samples'] for s in index['shards']] == [4, 4, 2]
    with tarfile.open(out / 'shard-000000.tar') as tar:
        names = tar.getnames()
    assert names[:2] == ['000000000.jpg', '000000000.txt']

    dataset = WebDatasetShards(str(out / 'shard-{000000..000002}.tar'),
                               repeat=False, shuffle_buffer=0)
    samples = by_caption(dataset)
    assert len(samples) == NUM
    for i in range(NUM):
        sample = samples[f'image {i}']
        assert sample['captions'] == [f'image {i}', f'pic {i}']
        # JPEG files are copied byte for byte: same pixels once decoded.
        with Image.open(manifest / f'{i}.jpg') as image:
            np.testing.assert_array_equal(sample['img'], np.asarray(image))


@pytest.mark.parametrize('shard_size', [2, 5])  # 5 shards; 2 shards
def test_readers_partition_the_samples(manifest, tmp_path, shard_size):
    out = shards_of(manifest, tmp_path, shard_size)
    dataset = WebDatasetShards(str(out / '*.tar'), repeat=False)
    for epoch in (0, 1):
        seen = Counter()
        for reader in range(4):  # e.g. 2 ranks x 2 workers
            for sample in dataset._raw_samples(epoch, reader, 4):
                seen[sample['key']] += 1
        assert sorted(seen.values()) == [1] * NUM


def test_dataloader_workers_read_every_sample_once(manifest, tmp_path):
    out = shards_of(manifest, tmp_path, 3)
    dataset = WebDatasetShards(
        str(out / '*.tar'), repeat=False, shuffle_buffer=3,
        pipeline=[dict(type='TokenizeText',
                       tokenizer=dict(type='ByteTokenizer',
                                      context_length=12),
                       caption_choice='first'),
                  dict(type='Resize', size=(8, 8)),
                  dict(type='PackInputs')])
    from mmengine.dataset import default_collate
    loader = torch.utils.data.DataLoader(dataset, batch_size=3,
                                         num_workers=2,
                                         collate_fn=default_collate)
    texts = []
    for batch in loader:
        assert batch['inputs'].dtype == torch.uint8
        texts += [s.text_tokens for s in batch['data_samples']]
    assert len(texts) == NUM
    assert len({tuple(t.tolist()) for t in texts}) == NUM


def test_repeat_reshuffles_each_pass(manifest, tmp_path):
    out = shards_of(manifest, tmp_path, 1)
    dataset = WebDatasetShards(str(out / '*.tar'), shuffle_buffer=0)
    stream = iter(dataset)
    first = [next(stream)['key'] for _ in range(NUM)]
    second = [next(stream)['key'] for _ in range(NUM)]
    assert sorted(first) == sorted(second)
    assert first != second


def test_each_iteration_of_a_finite_stream_is_the_next_pass(manifest,
                                                            tmp_path):
    out = shards_of(manifest, tmp_path, 1)
    dataset = WebDatasetShards(str(out / '*.tar'), repeat=False,
                               shuffle_buffer=0)
    first = [s['key'] for s in dataset]
    second = [s['key'] for s in dataset]
    assert sorted(first) == sorted(second) and first != second


def test_shuffle_buffer_keeps_every_sample(manifest, tmp_path):
    out = shards_of(manifest, tmp_path, 10)
    plain = [s['key'] for s in WebDatasetShards(
        str(out / '*.tar'), repeat=False, shuffle_buffer=0)]
    shuffled = [s['key'] for s in WebDatasetShards(
        str(out / '*.tar'), repeat=False, shuffle_buffer=4)]
    assert sorted(plain) == sorted(shuffled) and plain != shuffled


def test_make_shards_from_an_image_folder(tmp_path):
    for name in ('cat', 'dog'):
        (tmp_path / 'src' / name).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(
            tmp_path / 'src' / name / '0.png')
    assert make_shards.main([
        str(tmp_path / 'out'), '--image-folder', str(tmp_path / 'src'),
        '--templates', 'a {}.', 'the {}', '--no-shuffle'
    ]) == 0
    samples = list(WebDatasetShards(str(tmp_path / 'out' / '*.tar'),
                                    repeat=False, shuffle_buffer=0))
    assert [s['captions'] for s in samples] == [['a cat.', 'the cat'],
                                                ['a dog.', 'the dog']]
    assert samples[0]['img_path'].endswith('000000000.jpg')


def test_brace_ranges_and_member_keys(tmp_path):
    assert expand_shards('s-{08..10}.tar', str(tmp_path)) == [
        str(tmp_path / f's-{i:02d}.tar') for i in (8, 9, 10)]
    assert split_member_name('dir/00042.seg.PNG') == ('dir/00042', 'seg.png')


def test_missing_shards_name_the_tool(tmp_path):
    with pytest.raises(DataRootNotFoundError, match='make_shards.py'):
        WebDatasetShards(str(tmp_path / 'x-{0..3}.tar'))


def test_length_is_each_ranks_share_of_a_pass(manifest, tmp_path,
                                              monkeypatch):
    from pixpretrain.datasets import shard_files
    out = shards_of(manifest, tmp_path, 4)
    dataset = WebDatasetShards(str(out / '*.tar'), length=10)
    assert len(dataset) == 10
    # Three ranks read a pass of 10 samples as 4 + 3 + 3, as a distributed
    # sampler counts (rounding up).
    monkeypatch.setattr(shard_files, 'get_dist_info', lambda: (0, 3))
    assert len(dataset) == 4


def image_folder(root, classes):
    """Two 6x5 images per class (class sub-folders), or two in a flat
    folder (``classes=()``); their decoded pixels by file name."""
    rng = np.random.default_rng(1)
    pixels = {}
    for name in classes or ('', ):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            path = root / name / f'{name}{i}.jpg'
            Image.fromarray(rng.integers(0, 256, (6, 5, 3), np.uint8)).save(
                path, quality=90)
            with Image.open(path) as image:
                pixels[(name, i)] = np.asarray(image)
    return pixels


@pytest.mark.parametrize('classes', [(), ('cat', 'dog')])
def test_image_only_shards_read_back_with_their_labels(tmp_path, classes):
    pixels = image_folder(tmp_path / 'src', classes)
    assert make_shards.main([str(tmp_path / 'out'), '--image-folder',
                             str(tmp_path / 'src'), '--no-captions',
                             '--no-shuffle']) == 0
    with tarfile.open(tmp_path / 'out' / 'shard-000000.tar') as tar:
        suffixes = {name.split('.', 1)[1] for name in tar.getnames()}
    assert suffixes == ({'jpg', 'cls'} if classes else {'jpg'})
    index = json.loads((tmp_path / 'out' / 'index.json').read_text())
    assert index.get('classes') == (list(classes) or None)
    samples = list(WebDatasetShards(str(tmp_path / 'out' / '*.tar'),
                                    with_captions=False, repeat=False,
                                    shuffle_buffer=0))
    assert len(samples) == len(pixels)
    # --no-shuffle keeps the folder's order: class by class, file by file.
    for sample, (name, i) in zip(samples, sorted(pixels)):
        np.testing.assert_array_equal(sample['img'], pixels[(name, i)])
        assert 'captions' not in sample
        assert sample.get('gt_label') == (
            classes.index(name) if classes else None)


@pytest.fixture
def shard_warnings(monkeypatch):
    """The shard readers' warnings, as a list."""
    from pixpretrain.datasets import shard_files
    warnings = []
    monkeypatch.setattr(shard_files, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    return warnings


def write_tar(path, members):
    """A tar of (name, bytes) members, in order; 'IMG' is a 4 x 4 JPEG."""
    image = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(image, 'JPEG')
    with tarfile.open(path, 'w') as tar:
        for name, data in members:
            data = image.getvalue() if data == 'IMG' else data
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def test_shards_lacking_what_the_reader_needs_are_skipped_by_name(
        tmp_path, shard_warnings):
    warnings = shard_warnings
    shard = write_tar(tmp_path / 's.tar', [
        ('a.jpg', 'IMG'), ('a.cls', b'cat'), ('b.jpg', 'IMG'),
        ('b.cls', b' 3\n'), ('c.txt', b'a caption')])

    def read(**kwargs):
        return list(WebDatasetShards(str(shard), repeat=False,
                                     shuffle_buffer=0, **kwargs))
    samples = read(with_captions=False)
    assert [(s['key'], s['gt_label']) for s in samples] == [('b', 3)]
    assert warnings[0] == (f"skipping '{shard}/a': its cls member 'cat' "
                           'is not a class index (an integer >= 0)')
    assert warnings[1].startswith(f"skipping '{shard}/c': needs an image")
    warnings.clear()
    assert read() == []  # captions asked for: no sample has both
    assert len(warnings) == 3 and 'and a txt member' in warnings[0]


@pytest.mark.parametrize('step', ['LoadImageFromFile',
                                  'LoadRandomResizedCrop'])
def test_a_pipeline_reading_files_is_refused(manifest, tmp_path, step):
    out = shards_of(manifest, tmp_path, 4)
    config = dict(type=step, size=8) if step.endswith('Crop') else \
        dict(type=step)
    with pytest.raises(ConfigError, match=f'and {step} reads image files'):
        WebDatasetShards(str(out / '*.tar'), pipeline=[config])


def test_captioned_samples_keep_going_without_a_label_that_is_no_index(
        tmp_path, shard_warnings):
    warnings = shard_warnings
    shard = write_tar(tmp_path / 'captioned.tar', [
        (f'{key}.{ext}', data)
        for key, label in (('a', b'cat'), ('b', b'-1'), ('c', b'7'))
        for ext, data in (('jpg', 'IMG'), ('txt', b'a caption'),
                          ('cls', label))])
    samples = list(WebDatasetShards(str(shard), repeat=False,
                                    shuffle_buffer=0))
    assert [(s['key'], s.get('gt_label')) for s in samples] == [
        ('a', None), ('b', None), ('c', 7)]
    assert len(warnings) == 1 and "/a.cls' holds 'cat'" in warnings[0]
    # images alone: the label is the point, so such samples are skipped
    samples = list(WebDatasetShards(str(shard), repeat=False,
                                    shuffle_buffer=0, with_captions=False))
    assert [s['key'] for s in samples] == ['c']


def test_nested_file_loading_and_tokenizing_without_captions_are_refused(
        manifest, tmp_path):
    out = str(shards_of(manifest, tmp_path, 4) / '*.tar')
    nested = dict(type='MultiView', num_views=2,
                  transforms=[[dict(type='LoadImageFromFile')]])
    with pytest.raises(ConfigError, match='LoadImageFromFile reads image'):
        WebDatasetShards(out, pipeline=[nested])
    tokenize = dict(type='TokenizeText',
                    tokenizer=dict(type='ByteTokenizer', context_length=16))
    with pytest.raises(ConfigError, match=r'with_captions=False\) reads no '
                       'captions, and TokenizeText'):
        WebDatasetShards(out, pipeline=[tokenize], with_captions=False)


def test_a_shard_that_is_no_tar_names_itself(tmp_path):
    from pixpretrain.datasets.shard_files import read_shard
    from pixpretrain.utils.errors import DataFileError
    junk = tmp_path / 'shard-000000.tar'
    junk.write_bytes(b'not a tar archive\n' * 64)
    with pytest.raises(DataFileError, match=(
            f"shard '{junk}' is no readable tar archive .*: write it again "
            'with tools/dataset_converters/make_shards.py')):
        list(read_shard(str(junk)))
    whole = tmp_path / 'whole.tar'
    with tarfile.open(whole, 'w') as tar:
        data = b'x' * 5000
        member = tarfile.TarInfo('000000.jpg')
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    cut = tmp_path / 'cut.tar'
    cut.write_bytes(whole.read_bytes()[:3000])  # stops inside the member
    with pytest.raises(DataFileError, match=f"shard '{cut}'"):
        list(read_shard(str(cut)))
