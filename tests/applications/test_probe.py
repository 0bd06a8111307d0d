"""The layer probe: linear classifiers, kNN votes, the feature cache, and
its loading discipline, on features and models small enough for CI."""
import math
from pathlib import Path

import pytest
import torch

from pixpretrain.applications.probe import (ProbeSettings,
                                            build_probe_model, knn_probe,
                                            linear_probe, parse_layers,
                                            run_probe)
from pixpretrain.applications.probe.layers import (FeatureCache,
                                                   cached_features,
                                                   probe_model)
from pixpretrain.utils import CheckpointError, ConfigError

TINY = str(Path(__file__).resolve().parents[1] / 'fixtures' / 'tiny_mae.py')


def separable(labels, width, generator):
    """Class c centred at 4c on feature 0; uniform noise of half-width 1 on
    every feature, so the classes are 2 apart along feature 0."""
    noise = torch.rand(len(labels), width, generator=generator) * 2 - 1
    noise[:, 0] += 4.0 * labels
    return noise + 10.0   # an offset the standardisation must remove


def test_linearly_separable_features_probe_at_100_percent():
    generator = torch.Generator().manual_seed(0)
    train_y, test_y = torch.arange(150) % 3, torch.arange(60) % 3
    # Two separable layers of different widths, and a layer of pure noise.
    train = [separable(train_y, 8, generator),
             separable(train_y, 5, generator),
             torch.randn(150, 8, generator=generator)]
    test = [separable(test_y, 8, generator), separable(test_y, 5, generator),
            torch.randn(60, 8, generator=generator)]
    results = linear_probe(train, train_y, test, test_y, num_classes=3,
                           epochs=40, batch_size=16, lr=0.03)
    assert [r.test_accuracy for r in results[:2]] == [100.0, 100.0]
    assert results[2].test_accuracy < 70.0   # noise is not separable
    assert set(results[0].val_by_weight_decay) == {0.0, 1e-4, 1e-3, 1e-2}


def test_invalid_linear_settings_fail():
    features, labels = [torch.zeros(10, 2)], torch.zeros(10, dtype=torch.long)
    with pytest.raises(ConfigError, match='val_fraction'):
        linear_probe(features, labels, features, labels, 2, val_fraction=1.0)
    with pytest.raises(ConfigError, match='weight_decays'):
        linear_probe(features, labels, features, labels, 2,
                     weight_decays=[-1.0])


def on_circle(*angles):
    angles = torch.tensor(angles)
    return torch.stack([angles.cos(), angles.sin()], dim=1)


@pytest.mark.parametrize('temperature', [0.07, 1.0])
def test_knn_votes_are_temperature_weighted(temperature):
    # The query sits at angle 0. Its 3 nearest neighbours: one of class 0
    # at angle 0.1, two of class 1 at angles 0.5 and 0.6.
    bank = on_circle(0.1, 0.5, 0.6, 3.0) * 5.0   # norms are ignored
    bank_labels = torch.tensor([0, 1, 1, 0])
    query, query_label = on_circle(0.0), torch.tensor([0])
    votes = [math.exp(math.cos(0.1) / temperature),
             math.exp(math.cos(0.5) / temperature) +
             math.exp(math.cos(0.6) / temperature)]
    expected_class = 0 if votes[0] > votes[1] else 1
    # A sharp temperature lets the single closest neighbour win; a flat
    # one approaches the majority.
    assert expected_class == (0 if temperature < 0.5 else 1)
    (accuracy, ) = knn_probe([bank], bank_labels, [query], query_label,
                             num_classes=2, ks=(1, 3),
                             temperature=temperature)
    assert accuracy[1] == 100.0   # the nearest neighbour is class 0
    assert accuracy[3] == (100.0 if expected_class == 0 else 0.0)


def test_parse_layers():
    assert parse_layers('all', 4) == [0, 1, 2, 3]
    assert parse_layers('3,1,-1', 4) == [1, 3]
    with pytest.raises(ConfigError, match=r'\[4\] out of range'):
        parse_layers('4', 4)
    with pytest.raises(ConfigError, match='comma-separated'):
        parse_layers('last', 4)


def save_checkpoint(model, path, **changes):
    state = model.state_dict()
    state.update(changes)
    torch.save({'state_dict': state, 'meta': {'iter': 8}}, path)
    return str(path)


def probe(checkpoint, cache_dir, **kwargs):
    settings = dict(data='shapes', methods=['knn'], knn_ks=(5, ),
                    baseline=False, train_samples=40, test_samples=20,
                    num_workers=0, cache_dir=str(cache_dir))
    settings.update(kwargs)
    return run_probe(ProbeSettings(TINY, checkpoint, **settings))


def test_cache_is_reused_and_invalidated_by_a_new_checkpoint(tmp_path):
    model, _ = build_probe_model(TINY)
    path = save_checkpoint(model, tmp_path / 'a.pth')
    first = probe(path, tmp_path / 'cache')['models']['trained']
    assert first['timing']['extracted_layers'] == [0, 1]

    second = probe(path, tmp_path / 'cache')['models']['trained']
    assert second['timing']['extracted_layers'] == []
    assert second['layers'] == first['layers']

    # One changed weight: another file hash, so everything is extracted.
    save_checkpoint(model, path,
                    **{'backbone.cls_token': model.backbone.cls_token + 1})
    third = probe(path, tmp_path / 'cache')['models']['trained']
    assert third['timing']['extracted_layers'] == [0, 1]

    # A new layer request extracts only what is missing.
    baseline = probe(None, tmp_path / 'cache', layers='1')
    assert baseline['models']['random-init']['timing'][
        'extracted_layers'] == [1]
    assert probe(None, tmp_path / 'cache')['models']['random-init'][
        'timing']['extracted_layers'] == [0]


def test_random_init_baseline_is_probed_beside_the_checkpoint(tmp_path):
    model, _ = build_probe_model(TINY, seed=1)
    path = save_checkpoint(model, tmp_path / 'a.pth')
    report = probe(path, tmp_path / 'cache', baseline=True,
                   methods=['linear', 'knn'], epochs=2)
    assert set(report['models']) == {'trained', 'random-init'}
    row = report['models']['random-init']['layers'][0]
    assert set(row) == {'layer', 'linear', 'knn'}
    assert report['data']['train'] == dict(total=2000, used=40)


def test_wrong_keys_fail_loudly(tmp_path):
    model, _ = build_probe_model(TINY)
    path = save_checkpoint(model, tmp_path / 'a.pth',
                           **{'backbone.extra': torch.zeros(1)})
    with pytest.raises(CheckpointError, match='unexpected backbone.extra'):
        probe(path, tmp_path / 'cache')
    state = model.state_dict()
    del state['backbone.blocks.1.mlp.0.weight']
    torch.save({'state_dict': state}, tmp_path / 'b.pth')
    with pytest.raises(CheckpointError,
                       match='missing backbone.blocks.1.mlp.0.weight'):
        probe(str(tmp_path / 'b.pth'), tmp_path / 'cache')


def test_a_backbone_that_changes_during_probing_is_caught(tmp_path):
    from pixpretrain.applications.probe import build_probe_splits
    model, weights_id = build_probe_model(TINY)
    train, test, description = build_probe_splits('shapes', (32, 32),
                                                  train_samples=8,
                                                  test_samples=8)

    def drift(module, inputs, output):
        with torch.no_grad():
            model.backbone.cls_token.add_(1.0)

    model.backbone.blocks[0].register_forward_hook(drift)
    with pytest.raises(RuntimeError, match='backbone.*changed.*cls_token'):
        cached_features(model, FeatureCache(str(tmp_path)),
                        dict(weights=weights_id, data=description),
                        dict(train=train, test=test), [0], 'avg',
                        batch_size=4, num_workers=0, device='cpu')


def test_probe_model_reports_every_requested_method(tmp_path):
    from pixpretrain.applications.probe import build_probe_splits
    model, weights_id = build_probe_model(TINY)
    train, test, description = build_probe_splits('shapes', (32, 32),
                                                  train_samples=30,
                                                  test_samples=10)
    result = probe_model(model, weights_id, dict(data=description),
                         dict(train=train, test=test), 10, [0, 1],
                         FeatureCache(str(tmp_path)), methods=['linear'],
                         num_workers=0, linear_cfg=dict(epochs=2))
    assert [row['layer'] for row in result['layers']] == [0, 1]
    assert 'knn' not in result['layers'][0]
    assert 0.0 <= result['layers'][1]['linear']['test'] <= 100.0
    assert result['timing']['extracted_layers'] == [0, 1]


class _OneHotClip(torch.nn.Module):
    """Images are their own embeddings; a prompt embeds as the one-hot of
    its first byte's distance from 'a', so class 'a' is axis 0, 'b' 1 ..."""

    def __init__(self, first_byte_id):
        super().__init__()
        self.first_byte_id = first_byte_id
        self.data_preprocessor = lambda data, training: data

    def embed_image(self, images):
        return images.flatten(1).float()

    def embed_text(self, tokens):
        return torch.nn.functional.one_hot(
            tokens[:, 1] - self.first_byte_id, 3).float()


def test_zero_shot_probe_is_exact_on_a_constructed_case():
    from mmengine.structures import BaseDataElement

    from pixpretrain.datasets import build_tokenizer
    from pixpretrain.applications.probe.zero_shot import zero_shot_probe
    tokenizer = dict(type='ByteTokenizer', context_length=8)
    first_byte_id = int(build_tokenizer(tokenizer)(['a'])[0, 1])
    # Similarities to the classes a, b, c; the label of each image.
    images = [([0.9, 0.5, 0.1], 0),   # top-1 hit
              ([0.2, 0.7, 0.6], 2),   # second best: top-2 hit only
              ([0.1, 0.3, 0.8], 1),   # second best: top-2 hit only
              ([0.6, 0.1, 0.3], 1)]   # worst: no hit
    dataset = [dict(inputs=torch.tensor(v).view(3, 1, 1),
                    data_samples=BaseDataElement(gt_label=torch.tensor(y)))
               for v, y in images]
    result = zero_shot_probe(
        _OneHotClip(first_byte_id),
        dict(templates=['{}'], tokenizer=tokenizer, class_names=None),
        dataset, ['a', 'b', 'c'], topk=(1, 2), batch_size=3, num_workers=0)
    assert result == pytest.approx({'top1': 25.0, 'top2': 75.0})


def test_zero_shot_needs_a_zero_shot_evaluator(tmp_path):
    with pytest.raises(ConfigError, match='ZeroShotAccuracy'):
        run_probe(ProbeSettings(TINY, data='shapes', train_samples=10,
                                test_samples=10, cache_dir=str(tmp_path),
                                num_workers=0, zero_shot=True))


def test_igpt_configs_are_probed_on_palette_tokens(tmp_path):
    import numpy as np
    from mmengine.config import Config

    from pixpretrain.applications.probe.data import build_probe_splits
    from pixpretrain.applications.probe.probe import token_settings
    palette = tmp_path / 'palette.npy'
    np.save(palette, np.random.default_rng(0).uniform(0, 255, (16, 3)))
    cfg = Config.fromfile(str(Path(TINY).with_name('tiny_igpt.py')))
    cfg.train_dataloader.dataset.pipeline[0].palette = str(palette)
    report = run_probe(ProbeSettings(cfg, data='shapes', methods=['knn'],
                                     train_samples=30, test_samples=10,
                                     knn_ks=(5, ),
                                     cache_dir=str(tmp_path / 'cache'),
                                     num_workers=0))
    assert report['layers'] == [0, 1]
    assert 'ColorQuantize' in ' '.join(report['data']['transform'])
    # The probe's test features are the average over positions of what
    # IGPT.extract_feat gives for the quantised images.
    _, test_set, _ = build_probe_splits('shapes', (8, 8), None, 30, 10,
                                        quantize=token_settings(cfg))
    model, weights_id = build_probe_model(cfg)
    tokens = torch.stack([test_set[i]['inputs'] for i in range(10)])
    assert tokens.dtype == torch.int64 and tokens.shape == (10, 8, 8)
    with torch.no_grad():
        expected = model.extract_feat(tokens, layers=[1])[0].mean(dim=1)
    key_parts = dict(model=cfg.model.to_dict(), data=report['data'])
    features, _, extracted, _ = cached_features(
        model, FeatureCache(str(tmp_path / 'cache')),
        dict(weights=weights_id, **key_parts),
        dict(test=test_set), [1], 'avg', 10, 0, 'cpu')
    assert extracted == []  # run_probe cached them
    # Cached in float16: equal to its rounding.
    torch.testing.assert_close(features['test'][0][:], expected,
                               rtol=2 ** -10, atol=1e-6)


def test_a_resnet_is_probed_per_stage_at_the_size_asked(tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile(str(Path(TINY).with_name('tiny_moco.py')))
    settings = dict(data='shapes', methods=['knn'], knn_ks=(5, ),
                    train_samples=30, test_samples=10, num_workers=0,
                    cache_dir=str(tmp_path / 'cache'))
    # A ResNet takes any size: without one the probe cannot choose.
    with pytest.raises(ConfigError, match='--img-size'):
        run_probe(ProbeSettings(cfg, **settings))
    report = run_probe(ProbeSettings(cfg, img_size=16, **settings))
    model, _ = build_probe_model(cfg)
    assert report['layers'] == list(range(model.backbone.num_stages))
    assert report['data']['transform'][0].startswith('Resize(size=(16, 16)')


@pytest.mark.distributed
def test_a_cpu_probe_joins_its_job_on_a_machine_with_a_gpu(monkeypatch,
                                                           master_port):
    """``--device cpu --launcher pytorch`` where CUDA is present: the ranks
    still form a gloo group (they once each acted as rank 0)."""
    import torch.distributed as dist

    from pixpretrain.applications.probe.features import init_distributed
    if dist.is_initialized():
        pytest.skip('a process group is already running in this process')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    for name, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
                            MASTER_ADDR='127.0.0.1',
                            MASTER_PORT=str(master_port)).items():
        monkeypatch.setenv(name, value)
    init_distributed('pytorch', 'cpu')
    try:
        assert dist.is_initialized()
        assert dist.get_backend() == 'gloo'
    finally:
        dist.destroy_process_group()


def test_knn_settings_matter_only_to_a_knn_probe(tmp_path):
    report = run_probe(ProbeSettings(
        TINY, None, data='shapes', methods=['linear'], knn_ks=[],
        knn_temperature=0.0, train_samples=20, test_samples=10, epochs=1,
        num_workers=0, layers='1', cache_dir=str(tmp_path)))
    (layer, ) = report['models']['random-init']['layers']
    assert set(layer) == {'layer', 'linear'}  # no kNN column


@pytest.mark.parametrize('change, words', [
    (dict(knn_ks=[0]), r'knn_ks = \[0\]: neighbour counts'),
    (dict(knn_ks=[]), 'neighbour counts must be a list of integers'),
    (dict(knn_ks=5), 'knn_ks = 5: neighbour counts must be a list'),
    (dict(methods='knn'), "methods must be a list from .* got 'knn'"),
    (dict(knn_temperature=0.0), 'knn_temperature = 0.0'),
    (dict(batch_size=0), 'batch_size = 0'),
])
def test_settings_that_probe_nothing_are_refused_first(tmp_path, change,
                                                       words):
    settings = ProbeSettings(TINY, None, data='shapes',
                             cache_dir=str(tmp_path), **change)
    with pytest.raises(ConfigError, match=words):
        run_probe(settings)
    assert not any(tmp_path.iterdir())  # nothing extracted
