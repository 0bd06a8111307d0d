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
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from pixpretrain.apis.inference import init_model
from pixpretrain.models.utils import check_pool
from pixpretrain.utils.errors import ConfigError
from pixpretrain.utils.pretrained import load_pretrained
from .data import build_probe_splits
from .sources import LabelledSplits
from .features import file_sha256
from .store import FeatureCache
from .knn import check_knn_settings, ks_for_bank
from .layers import METHODS, backbone_depth, parse_layers, probe_model
from .linear import DEFAULT_WEIGHT_DECAYS
from .zero_shot import zero_shot_probe, zero_shot_settings


def random_init(config: Union[str, Config], seed: int = 0,
                device: str = 'cpu') -> Tuple[torch.nn.Module, str]:
    """The config's model as its seeded random initialisation, in eval
    mode: the baseline a trained checkpoint has to beat.

    The model is built right after ``torch.manual_seed(seed)``, inside
    ``torch.random.fork_rng`` (the caller's CPU random state is left as it
    was), so one seed gives the same weights in every process and run;
    models built on CPU and then moved are the same on any device.

    Returns:
        The model, and ``'random-init:seed=<seed>'``, its id in the cache.
    """
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG be
        torch.manual_seed(seed)
        model = init_model(config, None, device='cpu')
    return model.to(device).eval(), f'random-init:seed={seed}'


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
    the seeded random initialisation (:func:`random_init`).

    Returns:
        The model and an id of its weights (the checkpoint's SHA-256, or
        the random-init seed) for the feature cache.
    """
    model, weights_id = random_init(config, seed, 'cpu')
    if checkpoint is not None:
        loaded = (load_pretrained(model, checkpoint, '') if whole_model else
                  load_pretrained(model.backbone, checkpoint, 'backbone.'))
        prefixes = sorted({k.split('.')[0] + '.*' for k in loaded.skipped})
        print_log(
            f'loaded {len(loaded.loaded)} backbone tensors from '
            f'{checkpoint}; skipped {len(loaded.skipped)} keys outside the '
            f'backbone ({", ".join(prefixes) or "none"})', logger='current')
        weights_id = f'sha256:{file_sha256(checkpoint)}'
    return model.to(device).eval(), weights_id


def token_settings(cfg: Config) -> Optional[dict]:
    """The ``ColorQuantize`` step of the config's training pipeline, for
    models that read palette tokens (iGPT); None for image models."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # wrappers (e.g. captioned views)
    return next((dict(step) for step in dataset.get('pipeline') or []
                 if isinstance(step, dict)
                 and step.get('type') == 'ColorQuantize'), None)


@dataclass
class ProbeSettings:
    """Everything one probe run needs: the model, the data, the methods.

    Args:
        config: Config file of the model (e.g. the pretraining config), or
            the loaded config.
        checkpoint: Its checkpoint; None probes the random init only.
        layers: 'all', '3,6,9' or a list of block / stage indices.
        data: A probe data preset (:data:`PRESETS`), a labelled image
            folder (``train/<class>/...`` and ``val/`` or ``test/``), a
            config file whose ``train_dataloader`` and ``test_dataloader``
            hold labelled data sets, or :class:`LabelledSplits`.
        data_root: Overrides the preset's root.
        crop_ratio: Evaluation crop: 1 resizes straight to the input size,
            below 1 resizes the shorter side to ``size / crop_ratio`` and
            centre-crops; None keeps the preset's (0.875 for imagenet, 1
            otherwise).
        methods: Any of 'linear', 'knn'.
        pool: 'avg' (mean of patch tokens / global average pool) or 'cls'.
        baseline: With a checkpoint, also probe the random init.
        train_samples: An evenly spaced subset of the train split.
        test_samples: An evenly spaced subset of the test split.
        cache_dir: Where features are cached (float16 ``.npy`` files).
        shard_size: Images per cache shard: the unit an interrupted
            extraction resumes from, and that ranks share out.
        batch_size: Images per extraction batch.
        num_workers: Data loader workers of the extraction.
        device: Where the model runs.
        seed: Seed of the random init (see :func:`random_init`), the
            held-out split and the batch orders.
        weight_decays: The linear probes' L2 sweep.
        epochs: The linear probes' length.
        knn_ks: The kNN's neighbour counts.
        knn_temperature: The kNN's vote temperature.
        zero_shot: Also classify the test split zero-shot (CLIP models):
            the whole checkpoint is then loaded, and the prompts and the
            tokenizer come from the config's ``ZeroShotAccuracy``.
        img_size: Side the images are resized to, for backbones without a
            fixed input size (a ResNet); a ViT's own ``img_size`` wins.
    """

    config: Union[str, Config]
    checkpoint: Optional[str] = None
    layers: Union[str, Sequence[int]] = 'all'
    data: Union[str, LabelledSplits] = 'cifar10'
    data_root: Optional[str] = None
    crop_ratio: Optional[float] = None
    methods: Sequence[str] = METHODS
    pool: str = 'avg'
    baseline: bool = True
    train_samples: Optional[int] = None
    test_samples: Optional[int] = None
    cache_dir: str = 'work_dirs/feature_cache'
    shard_size: int = 4096
    batch_size: int = 256
    num_workers: int = 2
    device: str = 'cpu'
    seed: int = 0
    weight_decays: Sequence[float] = DEFAULT_WEIGHT_DECAYS
    epochs: int = 20
    knn_ks: Sequence[int] = (20, 200)
    knn_temperature: float = 0.07
    zero_shot: bool = False
    img_size: Optional[int] = None


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
    if isinstance(s.methods, str) or unknown or not s.methods:
        raise ConfigError(f'methods must be a list from {METHODS}, got '
                          f'{s.methods!r}')
    if 'knn' in s.methods:
        check_knn_settings(s.knn_ks, s.knn_temperature)
    if s.batch_size < 1:
        raise ConfigError(f'batch_size = {s.batch_size}: must be 1 or more')
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
    knn_ks = list(s.knn_ks)
    for name, weights in candidates:
        model, weights_id = build_probe_model(cfg, weights, s.device, s.seed,
                                              whole_model=s.zero_shot)
        probed = parse_layers(s.layers, backbone_depth(model.backbone))
        if datasets is None:
            img_size = getattr(model.backbone, 'img_size', None)
            if img_size is None and s.img_size:
                img_size = (s.img_size, s.img_size)
            if img_size is None:
                raise ConfigError(
                    f'{type(model.backbone).__name__} takes any image size; '
                    'give the side to resize to with --img-size (e.g. 32 '
                    'for CIFAR, 224 for ImageNet)')
            train_set, test_set, description = build_probe_splits(
                s.data, img_size, s.data_root, s.train_samples,
                s.test_samples, quantize=token_settings(cfg),
                crop_ratio=s.crop_ratio)
            datasets = dict(train=train_set, test=test_set)
            report['data'] = description
            if 'knn' in s.methods:
                knn_ks = report['knn']['ks'] = ks_for_bank(
                    s.knn_ks, len(train_set))
            report['layers'] = probed
        key_parts = dict(model=cfg.model.to_dict()
                         if hasattr(cfg.model, 'to_dict') else cfg.model,
                         data=description)
        report['models'][name] = probe_model(
            model, weights_id, key_parts, datasets,
            description['num_classes'], probed,
            FeatureCache(s.cache_dir, s.shard_size),
            s.methods, s.pool, s.batch_size, s.num_workers, s.device,
            linear_cfg=dict(weight_decays=s.weight_decays, epochs=s.epochs,
                            seed=s.seed),
            knn_cfg=dict(ks=knn_ks, temperature=s.knn_temperature))
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
