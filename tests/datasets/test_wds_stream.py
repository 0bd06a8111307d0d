"""WebDatasetStream: make_shards output read through the webdataset
library from local paths, an HTTP server on 127.0.0.1 and a pipe: command,
split between readers, shuffled, resampled."""
import functools
import http.server
import json
import runpy
import shutil
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from pixpretrain.utils.errors import (BadDataError, ConfigError,
                                      DataRootNotFoundError)

pytest.importorskip('webdataset')
from pixpretrain.datasets import WebDatasetStream  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
make_shards = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/dataset_converters/make_shards.py')))
NUM = 12


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    """NUM JPEGs with captions 'image i', 3 per shard, and the images."""
    root = tmp_path_factory.mktemp('wds')
    rng = np.random.default_rng(0)
    lines, images = [], {}
    for i in range(NUM):
        img = rng.integers(0, 256, (8, 9 + i, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / f'{i}.jpg', quality=90)
        with Image.open(root / f'{i}.jpg') as image:
            images[f'image {i}'] = np.asarray(image)
        lines.append(json.dumps(dict(image=f'{i}.jpg', caption=f'image {i}')))
    (root / 'm.jsonl').write_text('\n'.join(lines))
    out = root / 'shards'
    assert make_shards.main([str(out), '--manifest', str(root / 'm.jsonl'),
                             '--shard-size', '3']) == 0
    return SimpleNamespace(dir=out, images=images,
                           names='shard-{000000..000003}.tar')


@pytest.fixture(scope='module')
def http_root(shards):
    """The shard folder served on 127.0.0.1 by http.server in a thread."""
    if shutil.which('curl') is None:
        pytest.skip('webdataset reads http(s) URLs through curl')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(shards.dir))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def read_all(urls, **kwargs):
    settings = dict(repeat=False, shuffle_buffer=0)
    settings.update(kwargs)
    return list(WebDatasetStream(urls, **settings))


def check_every_sample_once(samples, shards):
    captions = [s['captions'][0] for s in samples]
    assert sorted(captions) == sorted(shards.images)
    for sample in samples:
        np.testing.assert_array_equal(sample['img'],
                                      shards.images[sample['captions'][0]])


def test_local_paths_read_every_sample_with_its_pixels(shards):
    samples = read_all(str(shards.dir / shards.names))
    check_every_sample_once(samples, shards)
    for sample in samples:
        shard, name = sample['img_path'].rsplit('/', 1)
        assert Path(shard).parent == shards.dir
        assert name == f"{sample['key']}.jpg"


def test_http_urls_on_localhost(shards, http_root):
    check_every_sample_once(read_all(f'{http_root}/{shards.names}'), shards)


def test_pipe_command(shards):
    check_every_sample_once(
        read_all(f'pipe:cat {shards.dir}/{shards.names}'), shards)


def test_fsspec_url(shards):
    pytest.importorskip('fsspec')
    url = f'file://{shards.dir}/shard-000000.tar'
    # 'file' goes to webdataset; fsspec's own 'memory' scheme proves the
    # fallback for schemes webdataset does not know.
    import fsspec
    fs = fsspec.filesystem('memory')
    fs.pipe('/wds/shard-000001.tar',
            (shards.dir / 'shard-000001.tar').read_bytes())
    samples = read_all([url, 'memory://wds/shard-000001.tar'])
    local = read_all([str(shards.dir / f'shard-00000{i}.tar')
                      for i in (0, 1)])
    assert len(samples) == 6
    assert [s['key'] for s in samples] == [s['key'] for s in local]


def test_shards_are_split_between_ranks_and_workers(shards, monkeypatch):
    # 2 ranks x 2 workers: each of the 4 readers gets one shard per pass.
    seen = Counter()
    for rank in range(2):
        monkeypatch.setenv('RANK', str(rank))
        monkeypatch.setenv('WORLD_SIZE', '2')
        dataset = WebDatasetStream(str(shards.dir / shards.names),
                                   repeat=False, shuffle_buffer=0)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=None, num_workers=2,
            collate_fn=lambda sample: sample['captions'][0])
        mine = list(loader)
        assert len(mine) == 6  # two readers' shards of 3
        seen.update(mine)
    assert seen == Counter(list(shards.images))  # a partition: each once


def test_shuffle_buffer_reorders_within_reach(shards):
    plain = [s['key'] for s in read_all(str(shards.dir / shards.names))]
    shuffled = [s['key'] for s in read_all(str(shards.dir / shards.names),
                                           shuffle_buffer=6)]
    assert sorted(shuffled) == sorted(plain) and shuffled != plain
    again = [s['key'] for s in read_all(str(shards.dir / shards.names),
                                        shuffle_buffer=6)]
    assert again == shuffled  # seeded


def test_repeat_passes_reorder_shards_and_resampling_never_ends(shards):
    stream = iter(WebDatasetStream(str(shards.dir / shards.names),
                                   shuffle_buffer=0))
    first = [next(stream)['key'] for _ in range(NUM)]
    second = [next(stream)['key'] for _ in range(NUM)]
    assert sorted(first) == sorted(second) and first != second
    resampled = iter(WebDatasetStream(str(shards.dir / shards.names),
                                      resampled=True, shuffle_buffer=4))
    drawn = [next(resampled)['captions'][0] for _ in range(5 * NUM)]
    assert set(drawn) <= set(shards.images)
    # With replacement: after 20 shard draws some image repeats more
    # often than a pass would give it.
    assert max(Counter(drawn).values()) > 5


def test_missing_shards_and_bad_urls_fail_in_one_line(shards, http_root):
    with pytest.raises(DataRootNotFoundError, match='make_shards.py'):
        WebDatasetStream(str(shards.dir / 'nope-{0..1}.tar'))
    with pytest.raises(BadDataError, match='nope.tar'):
        read_all(f'{http_root}/nope.tar')


def test_missing_webdataset_names_the_extra(shards, monkeypatch):
    import sys
    from pixpretrain.utils.optional import MissingDependencyError
    monkeypatch.setitem(sys.modules, 'webdataset', None)
    with pytest.raises(MissingDependencyError,
                       match=r'pixpretrain\[webdataset\]'):
        WebDatasetStream(str(shards.dir / shards.names))


def test_length_is_nominal_and_asking_without_one_explains(shards):
    urls = str(shards.dir / shards.names)
    assert len(WebDatasetStream(urls, length=5)) == 5
    with pytest.raises(TypeError,
                       match='set train_dataloader.dataset.length'):
        len(WebDatasetStream(urls))


def test_image_only_shards_stream_with_their_labels(tmp_path):
    labels = {}
    for label, name in enumerate(('cat', 'dog')):
        (tmp_path / 'src' / name).mkdir(parents=True)
        for i in range(3):
            img = np.full((5, 4 + i, 3), 40 * label + i, np.uint8)
            Image.fromarray(img).save(tmp_path / 'src' / name / f'{i}.png')
            labels[(label, 4 + i)] = label
    assert make_shards.main([str(tmp_path / 'out'), '--image-folder',
                             str(tmp_path / 'src'), '--no-captions',
                             '--shard-size', '2']) == 0
    samples = read_all(str(tmp_path / 'out' / 'shard-{000000..000002}.tar'),
                       with_captions=False)
    assert sorted((s['gt_label'], s['img'].shape[1]) for s in samples) == \
        sorted(labels)
    assert not any('captions' in s for s in samples)


def test_a_pipeline_reading_files_is_refused(shards):
    with pytest.raises(ConfigError, match='LoadImageFromFile reads image'):
        WebDatasetStream(str(shards.dir / shards.names),
                         pipeline=[dict(type='LoadImageFromFile')])
