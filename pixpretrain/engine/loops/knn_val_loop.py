"""Validation that first extracts a labelled feature bank, for kNN
monitors of pretraining."""
import time
from typing import Dict, List, Sequence, Union

import torch
from mmengine.dist import collect_results, is_main_process
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.runner import TestLoop, ValLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _parse_losses
from torch.utils.data import DataLoader

from pixpretrain.registry import LOOPS
from pixpretrain.utils.errors import ConfigError


def _attach_bank(loop, runner, bank_dataloader: Union[DataLoader, Dict],
                 stage: str) -> None:
    """Give a val or test loop its bank metrics and bank data loader.

    Args:
        loop: The loop, its evaluator built.
        runner: The Runner (builds a loader from a config).
        bank_dataloader: Labelled bank images, config or loader.
        stage: 'val' or 'test', naming the config keys in the error.
    """
    loop.bank_metrics = [
        metric for metric in loop.evaluator.metrics
        if hasattr(metric, 'set_bank')
    ]
    if not loop.bank_metrics:
        raise ConfigError(
            f"{stage}_cfg type='KNN{stage.title()}Loop' needs a metric that "
            f'takes a feature bank in {stage}_evaluator, e.g. '
            "dict(type='KNNAccuracy'); got "
            f'{[type(m).__name__ for m in loop.evaluator.metrics]}')
    if isinstance(bank_dataloader, dict):
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        bank_dataloader = runner.build_dataloader(
            bank_dataloader, seed=runner.seed, diff_rank_seed=diff_rank_seed)
    loop.bank_dataloader = bank_dataloader


def _run_with_bank(loop, stage: str, losses: dict) -> dict:
    """mmengine's ValLoop / TestLoop ``run`` with the bank filled after the
    model is put in eval mode (and after the stage's ``before_*`` hooks,
    e.g. EMA weights swapped in), before the first query batch.

    Args:
        loop: A :class:`KNNValLoop` or :class:`KNNTestLoop`.
        stage: 'val' or 'test': the hooks called and the loss prefix.
        losses: The loop's ``val_loss`` / ``test_loss`` dict.
    """
    runner = loop.runner
    runner.call_hook(f'before_{stage}')
    runner.call_hook(f'before_{stage}_epoch')
    runner.model.eval()
    loop.fill_banks()
    losses.clear()
    for idx, data_batch in enumerate(loop.dataloader):
        loop.run_iter(idx, data_batch)
    metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
    if losses:
        metrics.update(_parse_losses(losses, stage))
    runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
    runner.call_hook(f'after_{stage}')
    return metrics


@LOOPS.register_module()
class KNNValLoop(ValLoop):
    """mmengine's ValLoop, preceded by a pass over ``bank_dataloader``.

    At each validation, after the ``before_val_epoch`` hooks (so an EMA
    hook's weights are the ones used), the model in eval mode runs its
    predict mode over the bank images; every metric of the evaluator that
    has ``set_bank`` (e.g. :class:`pixpretrain.evaluation.KNNAccuracy`)
    receives the stacked ``feature_key`` fields and the labels. The usual
    validation over ``dataloader`` follows. In a distributed run each rank
    extracts its share and the main process, which computes the metrics,
    gets the whole bank in data-set order.

    Config::

        val_cfg = dict(type='KNNValLoop', bank_dataloader=dict(
            batch_size=512, num_workers=4,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='CIFAR10', split='train', ...)))
        val_dataloader = dict(...)  # the labelled queries, e.g. the test set
        val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.1)

    Args:
        runner: The Runner.
        dataloader: Query images (labelled), config or loader.
        evaluator: Metrics, at least one with ``set_bank``.
        bank_dataloader: Labelled bank images, config or loader; without
            augmentation, like the query images.
        fp16: Extract and validate under autocast.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 bank_dataloader: Union[DataLoader, Dict],
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        _attach_bank(self, runner, bank_dataloader, 'val')

    @torch.no_grad()
    def extract_bank(self, keys: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Run predict mode over the bank images.

        Args:
            keys: Data-sample fields to keep, besides ``gt_label``.

        Returns:
            ``{key: (N, D)}`` and ``gt_label`` (N,) on the main process, in
            data-set order; empty on the other ranks.
        """
        per_sample = []
        for data_batch in self.bank_dataloader:
            with autocast(enabled=self.fp16):
                outputs = self.runner.model.val_step(data_batch)
            for sample in outputs:
                missing = [key for key in keys if key not in sample]
                if missing:  # before the bank's pass ends, not at its end
                    raise ConfigError(
                        f"KNNAccuracy reads '{missing[0]}' from the model's "
                        f'predictions, which hold {sorted(sample.keys())}: '
                        'set its feature_key to one of them')
                per_sample.append(
                    tuple(sample.get(key).float().cpu() for key in keys) +
                    (sample.gt_label.cpu(), ))
        per_sample = collect_results(per_sample,
                                     len(self.bank_dataloader.dataset),
                                     device='cpu')
        if not is_main_process():
            return {}
        columns = list(zip(*per_sample))
        bank = {key: torch.stack(column) for key, column in zip(keys, columns)}
        bank['gt_label'] = torch.stack(columns[-1]).view(-1)
        return bank

    def fill_banks(self) -> None:
        """Extract the bank and hand it to every bank-taking metric."""
        start = time.perf_counter()
        keys = sorted({metric.feature_key for metric in self.bank_metrics})
        bank = self.extract_bank(keys)
        if not bank:
            return
        for metric in self.bank_metrics:
            metric.set_bank(bank[metric.feature_key], bank['gt_label'])
        print_log(
            f'kNN bank: {len(bank["gt_label"])} images '
            f'({", ".join(keys)}) in {time.perf_counter() - start:.1f} s',
            logger='current')

    def run(self) -> dict:
        """Launch validation: bank, then ValLoop's queries and metrics."""
        return _run_with_bank(self, 'val', self.val_loss)


@LOOPS.register_module()
class KNNTestLoop(TestLoop):
    """mmengine's TestLoop, preceded by a pass over ``bank_dataloader``:
    :class:`KNNValLoop` for ``runner.test()`` (``tools/test.py`` turns a
    config's ``KNNValLoop`` into this one when it has no test loop).

    Args:
        runner: The Runner.
        dataloader: Query images (labelled), config or loader.
        evaluator: Metrics, at least one with ``set_bank``.
        bank_dataloader: Labelled bank images, config or loader.
        fp16: Extract and test under autocast.
    """

    # The bank is extracted exactly as in validation.
    extract_bank = KNNValLoop.extract_bank
    fill_banks = KNNValLoop.fill_banks

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 bank_dataloader: Union[DataLoader, Dict],
                 fp16: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        _attach_bank(self, runner, bank_dataloader, 'test')

    def run(self) -> dict:
        """Launch the test: bank, then TestLoop's queries and metrics."""
        return _run_with_bank(self, 'test', self.test_loss)
