"""Turn a config plus command-line choices into one the Runner can run here."""
import logging
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from pixpretrain.apis.config_checks import (check_evaluator_inputs,
                                            check_resume, check_train_values)
from pixpretrain.apis.console import add_progress_bar
from pixpretrain.apis.config_checks.readers import resolve_class
from pixpretrain.apis.schedule_length import fit_schedule_to_loop
from pixpretrain.apis.strategy import apply_strategy
from pixpretrain.engine.optimizers import cpu_has_native_bf16
from pixpretrain.engine.optimizers.skip_nonfinite import (AMP_TO_FP32,
                                                         CPU_AUTOCAST,
                                                         FP32_TO_AMP)
from pixpretrain.utils.compile import apply_compile_fallback
from pixpretrain.utils.errors import ConfigError
from pixpretrain.utils.fileio import check_output_path


def prepare_train_config(cfg: Config,
                         config_path: str,
                         work_dir: Optional[str] = None,
                         resume: Optional[str] = None,
                         amp: bool = False,
                         auto_scale_lr: bool = False,
                         launcher: str = 'none',
                         no_validate: bool = False,
                         strategy: Optional[str] = None) -> Config:
    """Apply ``tools/train.py``'s flags and adapt the config to this machine.

    Args:
        cfg: The loaded config (``--cfg-options`` already merged).
        config_path: Its file, naming the default work dir.
        work_dir: ``--work-dir``; else the config's, else
            ``work_dirs/<config name>``.
        resume: 'auto' for the latest checkpoint in the work dir, a path for
            that checkpoint, ``None`` to start afresh (unless the config
            says ``resume = True``).
        amp: Mixed precision: bf16 where the GPU supports it, else fp16; on
            a CPU with native bf16, bf16 autocast; else float32.
        auto_scale_lr: Scale the lr linearly with the total batch size.
        launcher: 'none', 'pytorch' or 'slurm'.
        no_validate: ``--no-validate``: drop the val loop, data loader and
            evaluator (as mmpretrain does), so training never validates.
        strategy: ``--strategy``: 'ddp', 'fsdp' (FSDP2 sharding under
            FlexibleRunner) or None (as the config says); see
            :func:`~pixpretrain.apis.strategy.apply_strategy`.

    Raises:
        ConfigError: A value training cannot use (lr, batch size, length,
            a missing or untyped model part), before anything is built.
        PathNotFoundError: The checkpoint to resume or load is missing.
        CheckpointError: ``--resume`` names a weights-only file.
    """
    set_work_dir_and_launcher(cfg, config_path, work_dir, launcher)
    apply_strategy(cfg, strategy)
    if no_validate:
        # mmengine's Runner skips validation when all three are None (the
        # train loops test `runner.val_loop is not None`).
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    start_from = cfg.get('load_from')
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        if start_from and start_from != resume:
            raise ConfigError(
                f"--resume '{resume}' continues that run, so load_from = "
                f"'{start_from}' would be ignored: drop one of them")
        cfg.resume, cfg.load_from = True, resume
    # Before anything is built or written: a bad value or checkpoint is one
    # line, and the work dir stays as it was.
    check_train_values(cfg)
    check_evaluator_inputs(cfg, ['val'])
    check_resume(cfg, resume, fallback=start_from if resume == 'auto'
                 else None)
    for note in fit_schedule_to_loop(cfg):
        print_log(f'schedule follows the loop: {note}', logger='current')
    if amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type not in AMP_TO_FP32:
            cfg.optim_wrapper.type = FP32_TO_AMP.get(
                wrapper_type, 'SkipNonFiniteAmpOptimWrapper')
        if torch.cuda.is_available():
            if torch.cuda.is_bf16_supported():
                cfg.optim_wrapper.dtype = 'bfloat16'
        elif cpu_has_native_bf16():
            cfg.optim_wrapper.dtype = 'bfloat16'
    if auto_scale_lr:
        cfg.setdefault('auto_scale_lr', dict(base_batch_size=256))
        cfg.auto_scale_lr.enable = True
    _adapt_to_cpu(cfg, amp)
    apply_compile_fallback(cfg)
    check_method_config(cfg)
    add_progress_bar(cfg)
    return cfg


def set_work_dir_and_launcher(cfg: Config, config_path: str,
                              work_dir: Optional[str],
                              launcher: str) -> None:
    """What train and test set alike: ``cfg.launcher``, and the work dir
    (``work_dir``, else the config's, else ``work_dirs/<config name>``).

    Args:
        cfg: The loaded config, changed in place.
        config_path: Its file, naming the default work dir.
        work_dir: ``--work-dir`` or None.
        launcher: 'none', 'pytorch' or 'slurm'.

    Raises:
        OutputPathError: The work dir is a file.
    """
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    # A file there would stop mmengine's Runner with a traceback.
    check_output_path(cfg.work_dir, 'work_dir' if work_dir is None
                      else '--work-dir', folder=True)


def launched_world_size(launcher: str) -> int:
    """The number of processes the launcher started (1 without one), read
    from the environment before any process group exists."""
    if launcher == 'pytorch':
        return int(os.environ.get('WORLD_SIZE', 1))
    if launcher == 'slurm':
        return int(os.environ.get('SLURM_NTASKS', 1))
    return 1


def check_method_config(cfg: Config) -> None:
    """Let the config's model class refuse, before anything is built, a
    training config it cannot run (e.g. MoCo's queue shorter than one
    global batch): its ``check_train_config(cfg, world_size)``, where the
    class has one.

    Args:
        cfg: The training config, ``launcher`` set.

    Raises:
        ConfigError: From the method's check, naming the offending key.
    """
    model = cfg.get('model')
    model_cls = resolve_class(model, ['model'], cfg.get(
        'default_scope')) if isinstance(model, dict) else None
    check = getattr(model_cls, 'check_train_config', None)
    if check is None:
        return
    check(cfg, launched_world_size(cfg.get('launcher', 'none')))


def _adapt_to_cpu(cfg: Config, amp: bool = False) -> None:
    """Keep a GPU recipe runnable on a machine without one, saying so.

    A config's ``AmpOptimWrapper`` trains in float32 on a CPU unless ``amp``
    (``--amp``) asks for mixed precision and the CPU has native bf16: then
    :class:`AutocastOptimWrapper` runs the forward pass in bf16 autocast.
    Opt-in, because bf16 changes the numbers of every CPU run (within bf16's
    rounding) and is slower than fp32 on CPUs without bf16 hardware.
    """
    if torch.cuda.is_available():
        return
    adapt_loaders_and_dist_to_cpu(cfg)
    wrapper = cfg.get('optim_wrapper', {})
    if wrapper.get('type') in AMP_TO_FP32:
        bf16 = wrapper.get('dtype') in ('bfloat16', torch.bfloat16)
        for key in ('dtype', 'loss_scale', 'use_fsdp'):
            wrapper.pop(key, None)
        if amp and bf16 and cpu_has_native_bf16():
            print_log('mixed precision: bf16 autocast on the CPU',
                      logger='current')
            wrapper.type = CPU_AUTOCAST[wrapper.type]
            return
        hint = (' (--amp trains in bf16 autocast on this CPU)'
                if cpu_has_native_bf16() else '')
        # A warning only for a user who asked (--amp): a GPU recipe that
        # trains in float32 on a CPU is the documented default.
        print_log(
            f'mixed precision ({wrapper.type}) needs a GPU; training in '
            f'float32 on the CPU{hint}', logger='current',
            level=logging.WARNING if amp else logging.INFO)
        wrapper.type = AMP_TO_FP32[wrapper.type]


def adapt_loaders_and_dist_to_cpu(cfg: Config) -> None:
    """On a machine without a GPU: no pinned memory in any data loader, the
    gloo backend instead of nccl, DDP without device ids. Train and test
    share it.

    Args:
        cfg: The config, ``launcher`` set; changed in place.
    """
    if torch.cuda.is_available():
        return
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key) or {}
        if loader.get('pin_memory'):
            loader['pin_memory'] = False  # nothing to pin for; torch warns
    if cfg.launcher != 'none':
        dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        if dist_cfg.get('backend', 'nccl') == 'nccl':
            print_log('nccl needs GPUs; using the gloo backend on the CPU',
                      logger='current', level=30)
            dist_cfg['backend'] = 'gloo'
        # DDP over CPU modules takes no device ids (mmengine passes the
        # local rank's GPU unless the wrapper config says otherwise).
        wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', broadcast_buffers=False)
        wrapper_cfg['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper_cfg
