"""Checks that turn a mistyped path, key or value into one line before
anything is built: the config file, its keys and its ``--cfg-options`` keys
(:mod:`.loading`, :mod:`.keys`, :mod:`.options`, who reads each key in
:mod:`.readers`),
the values training needs (:mod:`.values`), the transforms a metric
reads the output of (:mod:`.evaluators`), and the checkpoint
``--resume`` / ``load_from`` names (:mod:`.resume`)."""
from .evaluators import check_evaluator_inputs
from .keys import check_config_keys
from .loading import load_config
from .options import check_cfg_options
from .readers import accepted_keys, runner_keys
from .resume import check_resume
from .values import check_model_parts, check_train_values

__all__ = [
    'load_config', 'check_cfg_options', 'check_config_keys', 'accepted_keys', 'runner_keys',
    'check_resume', 'check_model_parts', 'check_train_values',
    'check_evaluator_inputs'
]
