"""WebDataset shards streamed through the ``webdataset`` library, from any
URL it opens: local paths, ``pipe:`` commands, http(s), and object stores
(``s3://``, ``gs://`` ...) through fsspec.

``pip install 'pixpretrain[webdataset]'``; the library is imported when the
data set is built. Shards written by ``make_shards.py`` (``key.jpg`` +
``key.txt``, ``key.cls``) read here as they read in
:class:`~pixpretrain.datasets.WebDatasetShards`.
"""
import functools
import os
import sys
from typing import Callable, Dict, Iterator, Optional, Sequence, Union
from urllib.parse import urlparse

from mmengine.dataset import Compose
from torch.utils.data import IterableDataset

from pixpretrain.registry import DATASETS
from pixpretrain.utils.errors import (BadDataError, ConfigError,
                                      DataRootNotFoundError)
from pixpretrain.utils.optional import require

from .base import DATA_DOCS, build_pipeline
from .shard_files import (rank_length, refuse_file_loading,
                          sample_from_members)


def _webdataset():
    return require('webdataset', 'webdataset', 'WebDatasetStream')


def open_shard(url: str):
    """A readable binary stream of one shard.

    Schemes webdataset opens itself (none, ``file:``, ``pipe:``, ``http``,
    ``https``, ``gs`` ...) go to ``webdataset.gopen``; any other (``s3``,
    ``az``, ``memory`` ...) to ``fsspec.open``, which finds the backend
    package (s3fs, adlfs ...) by scheme.
    """
    _webdataset()
    # The package exports the function gopen under the module's name.
    gopen = sys.modules['webdataset.gopen']
    scheme = urlparse(url).scheme
    if len(scheme) <= 1 or scheme in gopen.gopen_schemes:
        return gopen.gopen(url, 'rb')  # '' or a Windows drive letter
    fsspec = require('fsspec', 'webdataset', f"the shard URL '{url}'")
    return fsspec.open(url, 'rb').open()


def _opened(urls: Iterator[Dict[str, str]]) -> Iterator[dict]:
    """webdataset's ``url_opener`` stage, with :func:`open_shard`."""
    for item in urls:
        url = item['url']
        try:
            stream = open_shard(url)
        except Exception as exc:
            raise BadDataError(f"cannot open shard '{url}': {exc}") from exc
        yield dict(item, stream=stream)


def _raise_with_shard(exc: Exception) -> bool:
    """webdataset's error handler: stop, naming the shard."""
    source = next((a for a in exc.args[1:] if isinstance(a, str)), None)
    where = f" in shard '{source}'" if source else ''
    raise BadDataError(f'cannot read WebDataset samples{where}: '
                       f'{exc.args[0] if exc.args else exc}') from exc


@DATASETS.register_module()
class WebDatasetStream(IterableDataset):
    """Images with captions (or without: ``with_captions=False``) from
    WebDataset shards at any URL.

    Without ``resampled``, each pass takes the shards in an order drawn from
    ``(seed, pass)`` (the same on every reader), gives rank r of R the
    shards r, r + R, ... (``webdataset.split_by_node``) and worker w of W
    the w-th of those (``split_by_worker``): use at least ranks x workers
    shards, or some readers get none. With ``resampled``, every reader
    draws shards at random with replacement for ever
    (``webdataset.ResampledShards``), seeded by ``seed``, its rank and its
    worker: the epoch-less training of large data sets, where any reader
    may start anywhere. Samples then pass a shuffle buffer.

    The stream has no length: train with ``IterBasedTrainLoop`` and
    ``sampler=None`` in the data loader. Samples reach the pipeline as in
    :class:`WebDatasetShards`: ``img`` (HWC uint8 RGB), ``captions`` (with
    ``with_captions``), ``gt_label`` (from a ``.cls`` member),
    ``img_path`` (``url/key.ext``), ``key``.

    Args:
        urls: One URL with an optional brace range
            (``'https://host/cc-{000000..000099}.tar'``,
            ``'pipe:aws s3 cp s3://bucket/cc-{0000..0009}.tar -'``), or a
            list of URLs.
        pipeline: Transforms (no ``LoadImageFromFile``: images arrive
            decoded).
        shuffle_buffer: Samples held for shuffling; 0 keeps shard order.
        resampled: Draw shards with replacement, never ending.
        repeat: Without ``resampled``: start a new pass after the last
            shard, for ever.
        seed: Seed of the shard order, the resampling and the buffer.
        with_captions: Read and require each image's ``.txt`` captions;
            False reads images alone (and their ``.cls`` labels).
        length: Samples a pass is taken to hold, for whatever asks the
            data loader its length (mmengine's Runner does, to build param
            schedulers), all ranks together; each rank answers its
            share; the stream does not stop there. ``None``: asking
            fails with a message naming this argument.
    """

    def __init__(self,
                 urls: Union[str, Sequence[str]],
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 shuffle_buffer: int = 1000,
                 resampled: bool = False,
                 repeat: bool = True,
                 seed: int = 0,
                 length: Optional[int] = None,
                 with_captions: bool = True) -> None:
        wds = _webdataset()
        if shuffle_buffer < 0:
            raise ConfigError(
                f'shuffle_buffer must be >= 0, got {shuffle_buffer}')
        self.urls = wds.shardlists.expand_urls(urls) if isinstance(
            urls, str) else list(urls)
        local = [u for u in self.urls if len(urlparse(u).scheme) <= 1]
        missing = [u for u in local if not os.path.isfile(u)]
        if not self.urls or missing:
            raise DataRootNotFoundError(
                f"shard '{missing[0] if missing else urls}' does not exist; "
                'write shards with tools/dataset_converters/make_shards.py '
                f'or give a URL (see docs/field_libraries.md and '
                f'{DATA_DOCS})')
        steps = build_pipeline(pipeline)
        refuse_file_loading(steps, type(self).__name__, with_captions)
        self.pipeline = Compose(steps)
        self.shuffle_buffer = shuffle_buffer
        self.resampled = resampled
        self.repeat = repeat
        self.seed = seed
        self.length = length
        self.with_captions = with_captions
        self._stream = self._build(wds)

    def __len__(self) -> int:
        return rank_length(type(self).__name__, self.length)

    @property
    def metainfo(self) -> dict:
        return dict(num_shards=len(self.urls))

    def _build(self, wds):
        if self.resampled:
            stages = [wds.ResampledShards(self.urls, seed=self.seed,
                                          deterministic=True)]
        else:
            # The same permutation on every reader (seeded by seed + pass)
            # before the split, so that the split stays a partition.
            stages = [wds.SimpleShardList(self.urls),
                      wds.detshuffle(len(self.urls), len(self.urls),
                                     seed=self.seed),
                      wds.split_by_node, wds.split_by_worker]
        stages += [_opened,
                   functools.partial(wds.tariterators.tar_file_expander,
                                     handler=_raise_with_shard),
                   functools.partial(wds.tariterators.group_by_keys,
                                     handler=_raise_with_shard)]
        if self.shuffle_buffer:
            stages.append(self._shuffled)
        stages.append(self._decoded)
        return wds.DataPipeline(*stages)

    def _shuffled(self, samples: Iterator[dict]) -> Iterator[dict]:
        """webdataset's shuffle buffer, seeded per reader and pass."""
        wds = _webdataset()
        self._pass = getattr(self, '_pass', -1) + 1
        reader = wds.utils.pytorch_worker_seed()  # rank * 1000 + worker
        seed = f'{self.seed}/{reader}/{self._pass}'
        return wds.shuffle(self.shuffle_buffer, self.shuffle_buffer,
                           seed=seed)(samples)

    def _decoded(self, samples: Iterator[dict]) -> Iterator[dict]:
        """webdataset samples -> pixpretrain's sample dicts."""
        for sample in samples:
            files = {k: v for k, v in sample.items()
                     if not k.startswith('__')}
            decoded = sample_from_members(sample['__url__'],
                                          sample['__key__'], files,
                                          self.with_captions)
            if decoded is not None:
                yield decoded

    def __iter__(self) -> Iterator[dict]:
        while True:
            produced = 0
            for sample in self._stream:
                data = self.pipeline(sample)
                if data is not None:
                    produced += 1
                    yield data
            if produced == 0:
                # Repeating an empty pass would spin for ever.
                rank, world, worker, workers = \
                    _webdataset().utils.pytorch_worker_info()
                raise BadDataError(
                    f'worker {worker} of {workers} on rank {rank} of {world} '
                    f'got no sample from {len(self.urls)} shards; give at '
                    'least ranks x workers shards, or resampled=True')
            if not self.repeat or self.resampled:
                return
