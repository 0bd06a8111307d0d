"""Metrics that read what only some transforms write (``CaptionNLL`` reads
the caption scores a model computes from ``text_tokens``) or what only a
hook prepares (``ZeroShotAccuracy``'s classifier, ``ZeroShotHook``),
refused before anything is built when their data loader's pipeline or the
config's ``custom_hooks`` lack it, instead of failing at the first
validation, after training."""
import inspect
from typing import Any, Dict, Iterator, List, Optional

from mmengine.config import Config

from pixpretrain.utils.errors import ConfigError
from .readers import pipeline_step_dicts, resolve_class


def check_evaluator_inputs(cfg: Config, stages: List[str]) -> None:
    """Refuse a metric whose ``required_transforms`` (a class attribute:
    transform name -> the arguments it must be given) are missing from its
    stage's dataset pipelines, or whose ``required_hooks`` (hook names)
    from ``custom_hooks``.

    Args:
        cfg: The config, options merged.
        stages: Which pairs to check, e.g. ``['val']`` for
            ``val_evaluator`` against ``val_dataloader``.

    Raises:
        ConfigError: Naming the metric, the missing transform (with the
            arguments it needs) and the loader's pipeline key, or the
            missing hook.
    """
    scope = cfg.get('default_scope')
    # mmengine registers a new default_hooks name as a hook too
    given = list(cfg.get('custom_hooks') or ()) + list(
        (cfg.get('default_hooks') or {}).values())
    hooks = [resolve_class(hook, ['custom_hooks'], scope)
             if isinstance(hook, dict) else type(hook) for hook in given]
    for stage in stages:
        evaluator = cfg.get(f'{stage}_evaluator')
        loader = cfg.get(f'{stage}_dataloader')
        if not evaluator or not isinstance(loader, dict):
            continue
        branches = [[(step, resolve_class(step, ['pipeline'], scope))
                     for step in steps]
                    for steps in _branch_pipelines(loader.get('dataset'))]
        for metric in _metric_dicts(evaluator):
            cls = resolve_class(metric, [f'{stage}_evaluator'], scope)
            _check_hooks(cls, stage, hooks, scope)
            required = getattr(cls, 'required_transforms', {})
            if not isinstance(required, dict):  # names alone, no arguments
                required = {name: {} for name in required}
            for name, arguments in required.items():
                needed = resolve_class({'type': name}, ['pipeline'], scope)
                if needed is None or all(any(
                        isinstance(found, type) and issubclass(found, needed)
                        and _given(step, found, arguments)
                        for step, found in steps) for steps in branches):
                    continue
                wanted = ', '.join(f'{k}={v!r}' for k, v in arguments.items())
                where = ' of every dataset' if len(branches) > 1 else ''
                raise ConfigError(
                    f'{stage}_evaluator: {cls.__name__} needs {name}('
                    f'{wanted}) in {stage}_dataloader.dataset.pipeline'
                    f'{where}: add dict(type={name!r}, {wanted}'
                    f'{", " if wanted else ""}...) before PackInputs, or '
                    'drop the metric')


def _check_hooks(metric: Optional[type], stage: str,
                 hooks: List[Optional[type]], scope: Optional[str]) -> None:
    """Refuse ``metric`` if a hook it names in ``required_hooks`` (or a
    subclass of it) is not among ``hooks``."""
    for name in getattr(metric, 'required_hooks', ()):
        needed = resolve_class({'type': name}, ['custom_hooks'], scope)
        if needed is None or any(isinstance(hook, type) and issubclass(
                hook, needed) for hook in hooks):
            continue
        raise ConfigError(
            f'{stage}_evaluator: {metric.__name__} needs {name} in '
            f'custom_hooks: add custom_hooks = [dict(type={name!r})] (with '
            'any hooks already there), or drop the metric')


def _given(step: dict, cls: type, arguments: Dict[str, Any]) -> bool:
    """Whether the step dict (or its class's defaults) gives each of
    ``arguments`` its value."""
    defaults = {
        name: param.default
        for name, param in inspect.signature(cls).parameters.items()
    }
    return all(step.get(key, defaults.get(key)) == value
               for key, value in arguments.items())


def _metric_dicts(evaluator: Any) -> Iterator[dict]:
    """The metric dicts of an evaluator config: one dict, a list of them,
    or an ``Evaluator`` dict with ``metrics``."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    for metric in evaluator if isinstance(evaluator, (list, tuple)) \
            else [evaluator]:
        if isinstance(metric, dict):
            yield metric


def _branch_pipelines(dataset: Optional[Any]) -> List[List[dict]]:
    """The transform dicts each sample meets, one list per data source: a
    wrapper's pipeline (``PromptCaptions(dataset=...)``) joins its inner
    dataset's, and each dataset of a ``ConcatDataset(datasets=[...])`` is
    a source of its own, since its samples never meet the others'."""
    if not isinstance(dataset, dict):
        return [[]]
    own = list(pipeline_step_dicts(dataset.get('pipeline')))
    inner = [steps for source in ([dataset['dataset']]
                                  if 'dataset' in dataset else [])
             + list(dataset.get('datasets') or ())
             for steps in _branch_pipelines(source)]
    return [own + steps for steps in inner] if inner else [own]
