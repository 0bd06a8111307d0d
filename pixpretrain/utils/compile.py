"""``compile = True`` in a config: torch.compile that never stops a run.

mmengine's Runner reads the config key ``compile`` (True or a dict of
``torch.compile`` arguments) and compiles the model's ``train_step``. A
compiler that cannot work on the machine only fails at the first step, which
would end the run; this module turns both cases into a warning and eager
execution.
"""
import importlib.util
import os
import shutil
from typing import Optional

import torch
import torch._dynamo  # noqa: F401  (its config, not through the lazy import)
from mmengine.config import Config
from mmengine.logging import print_log


def compile_unavailable(backend: str) -> Optional[str]:
    """Why ``torch.compile`` with ``backend`` cannot run here, or None."""
    if not hasattr(torch, 'compile'):
        return f'torch {torch.__version__} has no torch.compile'
    if backend != 'inductor':
        return None
    if torch.cuda.is_available():
        if importlib.util.find_spec('triton') is None:
            return "inductor's GPU code needs triton, which is not installed"
        return None
    compiler = os.environ.get('CXX', 'c++')
    if shutil.which(compiler) is None and shutil.which('g++') is None:
        return f"inductor's CPU code needs a C++ compiler ({compiler!r})"
    return None


def apply_compile_fallback(cfg: Config) -> None:
    """Keep the config's ``compile`` switch from stopping the run.

    Drops ``compile`` (warning once) where :func:`compile_unavailable` finds
    a reason, and otherwise lets any part of the step that fails to compile
    run eagerly (``torch._dynamo.config.suppress_errors``), so a compiler
    bug costs speed, not the run.
    """
    option = cfg.get('compile')
    if not option:
        return
    backend = option.get('backend', 'inductor') if isinstance(
        option, dict) else 'inductor'
    reason = compile_unavailable(backend)
    if reason:
        print_log(f'compile: {reason}; training without torch.compile',
                  logger='current', level=30)
        cfg.compile = False
        return
    torch._dynamo.config.suppress_errors = True
    print_log(
        f'compile: torch.compile ({backend}) of the training step; the first '
        'steps compile (minutes on a CPU), and a part that fails to compile '
        'runs eagerly with a warning', logger='current')
