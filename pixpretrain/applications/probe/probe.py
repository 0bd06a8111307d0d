"""What did a checkpoint learn, and where: probes at every layer.

One pass over the evaluation data extracts the pooled features of every
requested layer (cached on disk); linear classifiers for all layers then
train together on the cached features, and a weighted kNN votes on them.
Without a checkpoint the model keeps its random initialisation: the
baseline a trained model must beat.
"""
import os.path as osp
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import print_log
from torch.utils.data import DataLoader

from pixpretrain.apis.inference import init_model
from pixpretrain.datasets.prompt_captions import readable_class_name
from pixpretrain.datasets.tokenizers import build_tokenizer
from pixpretrain.evaluation.functional import knn_accuracy
from pixpretrain.evaluation.metrics.zero_shot import (
    build_zero_shot_classifier, topk_hits)
from pixpretrain.models.utils import check_pool
from pixpretrain.utils.errors import ConfigError
from pixpretrain.utils.pretrained import load_pretrained
from pixpretrain.utils.state_dict import changed_entries
from .data import build_probe_splits
from .features import FeatureCache, extract_dataset_features, file_sha256
from .linear import DEFAULT_WEIGHT_DECAYS, linear_probe

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


def knn_probe(train_features: Sequence[torch.Tensor],
              train_labels: torch.Tensor,
              test_features: Sequence[torch.Tensor],
              test_labels: torch.Tensor,
              num_classes: int,
              ks: Sequence[int] = (20, 200),
              temperature: float = 0.07) -> List[Dict[int, float]]:
    """Per layer, test accuracy (%) of the weighted kNN for each k.

    Cosine similarity to the training features; each neighbour votes for
    its class with ``exp(similarity / temperature)`` (Wu et al. 2018).
    """
    results = []
    for train, test in zip(train_features, test_features):
        results.append({
            k: knn_accuracy(train, train_labels, test, test_labels,
                            num_classes, k=k, temperature=temperature)
            for k in ks
        })
    return results


def build_probe_model(config: Union[str, Config],
                      checkpoint: Optional[str] = None,
                      device: str = 'cpu',
                      seed: int = 0,
                      whole_model: bool = False
                      ) -> Tuple[torch.nn.Module, str]:
    """The config's model with the checkpoint's backbone, in eval mode.

    Only ``backbone.`` keys are loaded, strictly; the rest of the
    checkpoint (decoder, heads) is expected and skipped. With
    ``whole_model`` every key is loaded, strictly (zero-shot needs the text
    tower and the projections too). Without a checkpoint the weights are
    the seeded random initialisation.

    Returns:
        The model and an id of its weights (the checkpoint's SHA-256, or
        the random-init seed) for the feature cache.
    """
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG be
        torch.manual_seed(seed)
        model = init_model(config, None, device='cpu')
    if checkpoint is None:
        weights_id = f'random-init:seed={seed}'
    else:
        loaded = (load_pretrained(model, checkpoint, '') if whole_model else
                  load_pretrained(model.backbone, checkpoint, 'backbone.'))
        prefixes = sorted({k.split('.')[0] + '.*' for k in loaded.skipped})
        print_log(
            f'loaded {len(loaded.loaded)} backbone tensors from '
            f'{checkpoint}; skipped {len(loaded.skipped)} keys outside the '
            f'backbone ({", ".join(prefixes) or "none"})', logger='current')
        weights_id = f'sha256:{file_sha256(checkpoint)}'
    return model.to(device).eval(), weights_id


def cached_features(model: torch.nn.Module, cache: FeatureCache,
                    key_parts: dict, datasets: Dict[str, object],
                    layers: Sequence[int], pool: str,
                    batch_size: int, num_workers: int, device: str
                    ) -> Tuple[Dict[str, List[torch.Tensor]],
                               Dict[str, torch.Tensor], List[int], float]:
    """Features of every split and layer: from the cache where present,
    the rest extracted in one pass per split and then cached.

    Returns:
        features[split][i] (N, D) for ``layers[i]``, labels[split], the
        layers that had to be extracted, and the seconds extraction took.
    """
    keys = {(split, layer): cache.key(layer=layer, split=split, pool=pool,
                                      **key_parts)
            for split in datasets for layer in layers}
    stored = {sk: cache.load(key) for sk, key in keys.items()}
    missing = sorted({layer for (_, layer), v in stored.items() if v is None})
    seconds = 0.0
    if missing:
        before = {k: v.detach().cpu().clone()
                  for k, v in model.backbone.state_dict().items()}
        start = time.perf_counter()
        for split, dataset in datasets.items():
            print_log(f'extracting {split} features of layers {missing}',
                      logger='current')
            features, labels = extract_dataset_features(
                model, dataset, missing, pool, batch_size, num_workers,
                device)
            for layer, feature in zip(missing, features):
                entry = dict(features=feature, labels=labels)
                cache.save(keys[(split, layer)], entry)
                stored[(split, layer)] = entry
        seconds = time.perf_counter() - start
        changed = changed_entries(before, model.backbone)
        if changed:
            raise RuntimeError(
                'the backbone changed while extracting features: '
                f'{", ".join(changed[:10])}')
    features = {split: [stored[(split, layer)]['features'] for layer in
                        layers] for split in datasets}
    labels = {split: stored[(split, layers[0])]['labels']
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
    rows = [dict(layer=layer) for layer in layers]
    timing = dict(extraction_s=extract_s, extracted_layers=extracted)
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
    return dict(weights=weights_id, layers=rows, timing=timing)


def token_settings(cfg: Config) -> Optional[dict]:
    """The ``ColorQuantize`` step of the config's training pipeline, for
    models that read palette tokens (iGPT); None for image models."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # wrappers (e.g. captioned views)
    return next((dict(step) for step in dataset.get('pipeline') or []
                 if isinstance(step, dict)
                 and step.get('type') == 'ColorQuantize'), None)


def zero_shot_settings(cfg: Config) -> dict:
    """``templates``, ``tokenizer`` and ``class_names`` of the config's
    ``ZeroShotAccuracy`` evaluator (test, else validation)."""
    for key in ('test_evaluator', 'val_evaluator'):
        evaluators = cfg.get(key) or []
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for evaluator in evaluators:
            if evaluator.get('type') == 'ZeroShotAccuracy':
                return dict(templates=evaluator['templates'],
                            tokenizer=evaluator['tokenizer'],
                            class_names=evaluator.get('class_names'))
    raise ConfigError(
        'zero-shot probing reads the prompts and the tokenizer from a '
        "ZeroShotAccuracy in the config's test_evaluator or val_evaluator; "
        'this config has none (is it a CLIP config?)')


@torch.no_grad()
def zero_shot_probe(model: torch.nn.Module, settings: dict,
                    dataset, class_names: Sequence[str],
                    topk: Sequence[int] = (1, 5), batch_size: int = 256,
                    num_workers: int = 2, device: str = 'cpu'
                    ) -> Dict[str, float]:
    """Zero-shot top-k accuracy (%) of a CLIP-style model on a split.

    Args:
        model: Has ``embed_image`` and ``embed_text`` (:class:`CLIP`).
        settings: From :func:`zero_shot_settings`.
        dataset: Yields ``PackInputs`` dicts with ``gt_label``.
        class_names: The data set's classes, in label order; the
            settings' ``class_names`` take precedence.
        topk: Which k to report.
        batch_size, num_workers, device: Evaluation settings.
    """
    if not (hasattr(model, 'embed_image') and hasattr(model, 'embed_text')):
        raise ConfigError(
            f'zero-shot probing needs a model with embed_image and '
            f'embed_text (CLIP); {type(model).__name__} has not')
    names = settings.get('class_names') or [
        readable_class_name(c) for c in class_names]
    classifier = build_zero_shot_classifier(
        model.embed_text, build_tokenizer(settings['tokenizer']), names,
        settings['templates'], device)                           # (C, E)
    topk = [k for k in topk if k <= len(names)]
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=default_collate)
    hits = []
    for batch in loader:
        inputs = model.data_preprocessor(
            dict(inputs=batch['inputs'].to(device)), training=False)['inputs']
        labels = torch.stack([s.gt_label for s in batch['data_samples']])
        hits.append(topk_hits(model.embed_image(inputs), labels.to(device),
                              classifier, topk).cpu())          # (B, K)
    hits = torch.cat(hits).float()
    return {f'top{k}': 100.0 * hits[:, i].mean().item()
            for i, k in enumerate(topk)}


@dataclass
class ProbeSettings:
    """Everything one probe run needs: the model, the data, the methods.

    Args:
        config: Config file of the model (e.g. the pretraining config), or
            the loaded config.
        checkpoint: Its checkpoint; None probes the random init only.
        layers: 'all', '3,6,9' or a list of block / stage indices.
        data: A probe data preset (:data:`PRESETS`).
        data_root: Overrides the preset's root.
        methods: Any of 'linear', 'knn'.
        pool: 'avg' (mean of patch tokens / global average pool) or 'cls'.
        baseline: With a checkpoint, also probe the random init.
        train_samples: An evenly spaced subset of the train split.
        test_samples: An evenly spaced subset of the test split.
        cache_dir: Where features are cached.
        batch_size: Images per extraction batch.
        num_workers: Data loader workers of the extraction.
        device: Where the model runs.
        seed: Seed of the random init, the held-out split, batch orders.
        weight_decays: The linear probes' L2 sweep.
        epochs: The linear probes' length.
        knn_ks: The kNN's neighbour counts.
        knn_temperature: The kNN's vote temperature.
        zero_shot: Also classify the test split zero-shot (CLIP models):
            the whole checkpoint is then loaded, and the prompts and the
            tokenizer come from the config's ``ZeroShotAccuracy``.
    """

    config: Union[str, Config]
    checkpoint: Optional[str] = None
    layers: Union[str, Sequence[int]] = 'all'
    data: str = 'cifar10'
    data_root: Optional[str] = None
    methods: Sequence[str] = METHODS
    pool: str = 'avg'
    baseline: bool = True
    train_samples: Optional[int] = None
    test_samples: Optional[int] = None
    cache_dir: str = 'work_dirs/feature_cache'
    batch_size: int = 256
    num_workers: int = 2
    device: str = 'cpu'
    seed: int = 0
    weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS
    epochs: int = 20
    knn_ks: Sequence[int] = (20, 200)
    knn_temperature: float = 0.07
    zero_shot: bool = False


def run_probe(settings: ProbeSettings) -> dict:
    """Probe a checkpoint (and the random-init baseline) at every layer.

    Args:
        settings: The model, the data and the methods.

    Returns:
        A JSON-serialisable report: the settings, the data, and for each
        probed model (``trained``, ``random-init``) its per-layer results
        and timings.
    """
    s = settings
    check_pool(s.pool)
    unknown = sorted(set(s.methods) - set(METHODS))
    if unknown or not s.methods:
        raise ConfigError(f'methods must be a subset of {METHODS}, got '
                          f'{list(s.methods)}')
    config = s.config
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    candidates = [('trained', s.checkpoint)] if s.checkpoint else []
    if s.checkpoint is None or s.baseline:
        candidates.append(('random-init', None))

    report = dict(config=config if isinstance(config, str) else None,
                  checkpoint=s.checkpoint and osp.abspath(s.checkpoint),
                  pool=s.pool, methods=list(s.methods), models={},
                  linear=dict(weight_decays=list(s.weight_decays),
                              epochs=s.epochs),
                  knn=dict(ks=list(s.knn_ks), temperature=s.knn_temperature))
    prompts = zero_shot_settings(cfg) if s.zero_shot else None
    datasets = description = None
    for name, weights in candidates:
        model, weights_id = build_probe_model(cfg, weights, s.device, s.seed,
                                              whole_model=s.zero_shot)
        probed = parse_layers(s.layers, backbone_depth(model.backbone))
        if datasets is None:
            img_size = getattr(model.backbone, 'img_size', None)
            if img_size is None:
                raise ConfigError(
                    f'{type(model.backbone).__name__} has no img_size; '
                    'the probe resizes images to it')
            train_set, test_set, description = build_probe_splits(
                s.data, img_size, s.data_root, s.train_samples,
                s.test_samples, quantize=token_settings(cfg))
            datasets = dict(train=train_set, test=test_set)
            report['data'] = description
            report['layers'] = probed
        key_parts = dict(model=cfg.model.to_dict()
                         if hasattr(cfg.model, 'to_dict') else cfg.model,
                         data=description)
        report['models'][name] = probe_model(
            model, weights_id, key_parts, datasets,
            description['num_classes'], probed, FeatureCache(s.cache_dir),
            s.methods, s.pool, s.batch_size, s.num_workers, s.device,
            linear_cfg=dict(weight_decays=s.weight_decays, epochs=s.epochs,
                            seed=s.seed),
            knn_cfg=dict(ks=s.knn_ks, temperature=s.knn_temperature))
        if s.zero_shot:
            start = time.perf_counter()
            test_set = datasets['test']
            classes = getattr(test_set, 'dataset', test_set).metainfo[
                'classes']
            report['models'][name]['zero_shot'] = zero_shot_probe(
                model, prompts, test_set, classes,
                batch_size=s.batch_size, num_workers=s.num_workers,
                device=s.device)
            report['models'][name]['timing']['zero_shot_s'] = \
                time.perf_counter() - start
        del model
    return report
