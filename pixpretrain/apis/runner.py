"""Build the Runner of a prepared config, after what a run needs first on
this machine: a CPU process group for a launched job, torch's threads."""
import os

import torch
from mmengine.config import Config


def build_runner(cfg: Config, loader: str = 'train_dataloader',
                 brief_console: bool = True):
    """The Runner the config names (``runner_type``), else mmengine's;
    mmengine's Runner and FlexibleRunner as pixpretrain's, their schedule
    checked against the loop's steps
    (:class:`~pixpretrain.engine.PretrainRunner`) and with a brief console
    (:class:`~pixpretrain.engine.BriefConsoleRunner`) unless
    ``brief_console`` is False. Built after what a run needs first
    on this machine: a CPU process group for a launched job
    (:func:`init_cpu_distributed`) and torch's thread count
    (:func:`~pixpretrain.apis.threads.apply_threads`).

    Args:
        cfg: A prepared config.
        loader: The data loader whose workers run beside this process.
        brief_console: Warnings and progress on the console, the rest in
            the log file only (``tools/train.py --verbose`` turns it off).
    """
    from mmengine.registry import RUNNERS

    from pixpretrain.engine import (BriefConsoleFlexibleRunner,
                                    BriefConsoleRunner,
                                    PretrainFlexibleRunner, PretrainRunner)
    from .threads import apply_threads
    init_cpu_distributed(cfg)
    apply_threads(cfg, loader=loader)
    ours = {None: (BriefConsoleRunner, PretrainRunner),
            'FlexibleRunner': (BriefConsoleFlexibleRunner,
                               PretrainFlexibleRunner)}
    runner_type = cfg.get('runner_type')
    if runner_type in ours:
        brief, plain = ours[runner_type]
        return (brief if brief_console else plain).from_cfg(cfg)
    return RUNNERS.build(cfg)


def init_cpu_distributed(cfg: Config) -> None:
    """Start the process group ourselves where mmengine's launcher would call
    ``torch.cuda.set_device`` on a machine with no GPU."""
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    init_cpu_process_group(cfg.launcher,
                           cfg.env_cfg.dist_cfg.get('backend', 'gloo'))


def init_cpu_process_group(launcher: str, backend: str = 'gloo') -> None:
    """Join the job torchrun (``launcher`` 'pytorch') or slurm ('slurm')
    started, without touching a GPU, whether the machine has one or not;
    nothing if a process group exists already."""
    import torch.distributed as dist
    if dist.is_initialized():
        return
    if launcher == 'slurm':
        # Translate slurm's variables into torch's env:// ones.
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            import subprocess
            nodes = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {nodes} | head -n1')
    dist.init_process_group(backend=backend)
