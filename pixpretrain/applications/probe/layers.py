"""Probing one model's layers: which layers, their features (cached on
disk, extracted in one pass where missing), and the linear and kNN probes
on them."""
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import broadcast_object_list, get_dist_info
from mmengine.logging import print_log

from pixpretrain.utils.errors import ConfigError
from pixpretrain.utils.state_dict import changed_entries
from .features import extract_to_cache
from .knn import knn_probe
from .linear import linear_probe
from .store import FeatureCache, FeatureFile

METHODS = ('linear', 'knn')


def backbone_depth(backbone: torch.nn.Module) -> int:
    """Number of blocks (``num_layers``) or stages (``num_stages``)."""
    for name in ('num_layers', 'num_stages'):
        depth = getattr(backbone, name, None)
        if isinstance(depth, int):
            return depth
    raise ConfigError(
        f'{type(backbone).__name__} has neither num_layers nor num_stages; '
        "pass the layers to probe explicitly (e.g. '0,1,2')")


def parse_layers(layers: Union[str, Sequence[int]], depth: int) -> List[int]:
    """'all', '3,6,9' or a list -> sorted distinct indices in [0, depth)."""
    if isinstance(layers, str):
        if layers == 'all':
            return list(range(depth))
        try:
            layers = [int(x) for x in layers.split(',') if x.strip()]
        except ValueError:
            raise ConfigError(
                f"layers must be 'all' or comma-separated ints, got "
                f'{layers!r}') from None
    bad = [i for i in layers if not -depth <= i < depth]
    if bad or not layers:
        raise ConfigError(f'layers {bad or "(none)"} out of range for a '
                          f'backbone of depth {depth}: use 0..{depth - 1} '
                          'or negative indices')
    return sorted({i % depth for i in layers})


def cached_features(model: torch.nn.Module, cache: FeatureCache,
                    key_parts: dict, datasets: Dict[str, object],
                    layers: Sequence[int], pool: str,
                    batch_size: int, num_workers: int, device: str
                    ) -> Tuple[Dict[str, List[FeatureFile]],
                               Dict[str, torch.Tensor], List[int], float]:
    """Features of every split and layer: from the cache where complete,
    the rest extracted (resuming unfinished shards) in one pass per split,
    shared among the ranks of ``torch.distributed`` when it is running.

    Returns:
        features[split][i], the memory-mapped (N, D) features of
        ``layers[i]``; labels[split]; the layers that had to be extracted;
        and the seconds extraction took.
    """
    keys = {(split, layer): cache.key(layer=layer, split=split, pool=pool,
                                      **key_parts)
            for split in datasets for layer in layers}
    missing = sorted({layer for (_, layer), key in keys.items()
                      if not cache.is_complete(key)})
    seconds = 0.0
    if missing:
        before = {k: v.detach().cpu().clone()
                  for k, v in model.backbone.state_dict().items()}
        start = time.perf_counter()
        for split, dataset in datasets.items():
            print_log(f'extracting {split} features of layers {missing}',
                      logger='current')
            extract_to_cache(model, dataset, missing,
                             [keys[(split, layer)] for layer in missing],
                             cache, pool, batch_size, num_workers, device)
        seconds = time.perf_counter() - start
        changed = changed_entries(before, model.backbone)
        if changed:
            raise RuntimeError(
                'the backbone changed while extracting features: '
                f'{", ".join(changed[:10])}')
    features = {split: [cache.open(keys[(split, layer)]) for layer in
                        layers] for split in datasets}
    labels = {split: cache.labels(keys[(split, layers[0])])
              for split in datasets}
    return features, labels, missing, seconds


def probe_model(model: torch.nn.Module, weights_id: str, key_parts: dict,
                datasets: Dict[str, object], num_classes: int,
                layers: Sequence[int], cache: FeatureCache,
                methods: Sequence[str] = METHODS, pool: str = 'avg',
                batch_size: int = 256, num_workers: int = 2,
                device: str = 'cpu', linear_cfg: Optional[dict] = None,
                knn_cfg: Optional[dict] = None) -> dict:
    """Probe one model's layers; see :class:`ProbeSettings` for the
    arguments.

    Returns:
        ``layers``: one dict per layer (``layer``, ``linear``, ``knn``),
        ``timing``: seconds of extraction, linear and kNN, and which layers
        were extracted rather than read from the cache.
    """
    features, labels, extracted, extract_s = cached_features(
        model, cache, dict(weights=weights_id, **key_parts), datasets,
        layers, pool, batch_size, num_workers, device)
    # The classifiers are cheap next to extraction: rank 0 fits them and
    # the other ranks receive its result.
    result = [None]
    if get_dist_info()[0] == 0:
        result[0] = fit_probes(features, labels, num_classes, layers,
                               methods, linear_cfg, knn_cfg)
    broadcast_object_list(result)
    rows, timing = result[0]
    timing.update(extraction_s=extract_s, extracted_layers=extracted)
    return dict(weights=weights_id, layers=rows, timing=timing)


def fit_probes(features: Dict[str, list], labels: Dict[str, torch.Tensor],
               num_classes: int, layers: Sequence[int],
               methods: Sequence[str], linear_cfg: Optional[dict],
               knn_cfg: Optional[dict]) -> Tuple[List[dict], dict]:
    """The linear and kNN probes on cached features: one row per layer,
    and the seconds each method took."""
    rows = [dict(layer=layer) for layer in layers]
    timing = {}
    if 'linear' in methods:
        start = time.perf_counter()
        for row, result in zip(rows, linear_probe(
                features['train'], labels['train'], features['test'],
                labels['test'], num_classes, **(linear_cfg or {}))):
            row['linear'] = dict(
                test=result.test_accuracy, val=result.val_accuracy,
                weight_decay=result.weight_decay,
                val_by_weight_decay={
                    str(k): v for k, v in result.val_by_weight_decay.items()
                })
        timing['linear_s'] = time.perf_counter() - start
    if 'knn' in methods:
        start = time.perf_counter()
        for row, result in zip(rows, knn_probe(
                features['train'], labels['train'], features['test'],
                labels['test'], num_classes, **(knn_cfg or {}))):
            row['knn'] = {str(k): v for k, v in result.items()}
        timing['knn_s'] = time.perf_counter() - start
    return rows, timing

