"""Rebuild zero-shot classifiers from the current weights before evaluating."""
from mmengine.hooks import Hook

from pixpretrain.models.utils import unwrap_model
from pixpretrain.registry import HOOKS


@HOOKS.register_module()
class ZeroShotHook(Hook):
    """Before each validation and test, embed the class prompts of every
    :class:`~pixpretrain.evaluation.ZeroShotAccuracy` metric with the model
    as it is now (metrics cannot reach the model themselves).

    Every rank builds the classifier, so each scores its share of the
    images; the model needs ``embed_text`` (e.g. :class:`CLIP`).
    """
    priority = 'NORMAL'

    @staticmethod
    def _prepare(runner, loop) -> None:
        model = unwrap_model(runner.model)
        for metric in loop.evaluator.metrics:
            if hasattr(metric, 'prepare'):
                metric.prepare(model)

    def before_val_epoch(self, runner) -> None:
        self._prepare(runner, runner.val_loop)

    def before_test_epoch(self, runner) -> None:
        self._prepare(runner, runner.test_loop)
