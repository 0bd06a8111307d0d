"""Turn a config and a checkpoint into one whose test loop the Runner can run
here (``tools/test.py``), and run it."""
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import print_log

from pixpretrain.apis.config_checks import check_evaluator_inputs
from pixpretrain.utils.errors import ConfigError, PathNotFoundError
from .start_weights import check_checkpoint_fits
from .train import adapt_loaders_and_dist_to_cpu, set_work_dir_and_launcher

TEST_KEYS = ('test_dataloader', 'test_cfg', 'test_evaluator')
VAL_KEYS = ('val_dataloader', 'val_cfg', 'val_evaluator')
# A val loop that has a test twin taking the same arguments.
VAL_TO_TEST_LOOP = {'KNNValLoop': 'KNNTestLoop', 'ValLoop': 'TestLoop'}


def _given(cfg: Config, keys) -> List[str]:
    return [key for key in keys if cfg.get(key) is not None]


def resolve_test_loop(cfg: Config) -> str:
    """Make sure the config has a test loop, data loader and evaluator.

    A config with all three keeps them. A config with none of them but a
    complete validation (a pretraining config's kNN monitor, a fine-tuning
    config with only ``val_*``) is tested the way it is validated: the val
    data loader and evaluator become the test ones, and the val loop its
    test twin (``KNNValLoop`` -> ``KNNTestLoop``, keeping the feature bank).

    Args:
        cfg: The loaded config, changed in place.

    Returns:
        str: 'test' when the config's own test keys are used, 'val' when
        they were taken from the validation keys.

    Raises:
        ConfigError: Some test keys are given and others not, or the config
            has neither a test nor a complete validation setup; the message
            names the missing keys.
    """
    tests, vals = _given(cfg, TEST_KEYS), _given(cfg, VAL_KEYS)
    if len(tests) == len(TEST_KEYS):
        return 'test'
    if tests:
        missing = [key for key in TEST_KEYS if key not in tests]
        raise ConfigError(
            f'the config sets {", ".join(tests)} but not '
            f'{", ".join(missing)}; mmengine tests with all three: add '
            f'{missing[0]} to the config (test_cfg = dict() runs TestLoop)')
    if len(vals) != len(VAL_KEYS):
        raise ConfigError(
            'the config defines no test_dataloader, test_cfg and '
            'test_evaluator, and no complete validation to test with '
            f'(missing: {", ".join(k for k in VAL_KEYS if k not in vals)}); '
            'test a fine-tuning, linear-probe, CLIP or kNN config (e.g. '
            'configs/finetune/*), or add the three test_* keys')
    loop = dict(cfg.val_cfg)
    loop_type = loop.pop('type', 'ValLoop')
    if loop_type not in VAL_TO_TEST_LOOP:
        raise ConfigError(
            f"val_cfg type='{loop_type}' has no test counterpart; add "
            'test_dataloader, test_cfg and test_evaluator to the config')
    cfg.test_cfg = dict(type=VAL_TO_TEST_LOOP[loop_type], **loop)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    print_log('no test_* keys in the config: testing with its validation '
              f'data and metrics ({loop_type} -> {cfg.test_cfg.type})',
              logger='current')
    return 'val'


def require_checkpoint(checkpoint: str) -> None:
    """Raise :class:`PathNotFoundError` for a local checkpoint path that
    is no file (a URL is left to the loader)."""
    path = osp.expanduser(checkpoint)
    if '://' not in checkpoint and not osp.isfile(path):
        what = 'a folder, not a file' if osp.isdir(path) else 'no such file'
        raise PathNotFoundError(
            f"checkpoint '{checkpoint}': {what}; pass a .pth a "
            'training run saved (e.g. work_dirs/<config>/iter_N.pth)')


def prepare_test_config(cfg: Config,
                        config_path: str,
                        checkpoint: str,
                        work_dir: Optional[str] = None,
                        launcher: str = 'none') -> Config:
    """Apply ``tools/test.py``'s arguments and adapt the config to this
    machine, before anything is built.

    Args:
        cfg: The loaded config (``--cfg-options`` already merged).
        config_path: Its file, naming the default work dir.
        checkpoint: The weights to test (a local path or a URL the
            checkpoint loader knows); loaded by the Runner through
            pixpretrain's allow-listed loader.
        work_dir: ``--work-dir``; else the config's, else
            ``work_dirs/<config name>``.
        launcher: 'none', 'pytorch' or 'slurm'.

    Raises:
        PathNotFoundError: A local ``checkpoint`` that does not exist.
        ConfigError: No test (or validation) setup, see
            :func:`resolve_test_loop`.
    """
    require_checkpoint(checkpoint)
    set_work_dir_and_launcher(cfg, config_path, work_dir, launcher)
    resolve_test_loop(cfg)
    check_evaluator_inputs(cfg, ['test'])
    # Weights only: the test loop needs no optimizer or scheduler state.
    cfg.load_from, cfg.resume = osp.expanduser(checkpoint), False
    adapt_loaders_and_dist_to_cpu(cfg)
    return cfg


def run_test(cfg: Config) -> Dict[str, Any]:
    """Build the Runner the config names and run its test loop.

    Args:
        cfg: A config from :func:`prepare_test_config`.

    Returns:
        dict: The metrics, as the evaluator returns them (rank 0 has them;
        other ranks get the same dict from mmengine's broadcast).
    """
    # Importing registers pixpretrain's safe loader as mmengine's handler
    # for local paths, so load_from never unpickles code.
    import pixpretrain.utils.checkpoint  # noqa: F401

    from .runner import build_runner
    runner = build_runner(cfg, loader='test_dataloader')
    check_checkpoint_fits(runner.model, cfg.load_from)
    return dict(runner.test())
