"""Zero-shot classification of a probe's test split by a CLIP-style model,
with the prompts and the tokenizer of the config's ``ZeroShotAccuracy``."""
from typing import Dict, Sequence

import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

from pixpretrain.datasets.prompt_captions import readable_class_name
from pixpretrain.datasets.tokenizers import build_tokenizer
from pixpretrain.evaluation.metrics.zero_shot import (
    build_zero_shot_classifier, topk_hits)
from pixpretrain.utils.errors import ConfigError


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
