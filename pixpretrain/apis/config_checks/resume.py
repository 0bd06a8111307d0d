"""The checkpoint ``--resume`` / ``load_from`` names: a missing file, a
file without a training state, or nothing to auto-resume."""
import os
import os.path as osp
import sys
from typing import Optional

from mmengine.config import Config

from pixpretrain.utils.errors import CheckpointError, PathNotFoundError
from pixpretrain.utils.fileio import last_checkpoint


def check_resume(cfg: Config, resume: Optional[str] = None,
                 fallback: Optional[str] = None) -> None:
    """Refuse a checkpoint path that is missing or cannot be resumed from,
    before the Runner starts; warn when auto-resume finds nothing.

    With ``resume = True`` and no ``load_from`` (``--resume`` alone) and no
    ``last_checkpoint`` in the work dir, the run starts from scratch: one
    warning line says so, and ``cfg.resume`` turns off so mmengine does not
    log "Auto resumed from the latest checkpoint None".

    Args:
        cfg: The config, ``work_dir`` set.
        resume: ``--resume``: 'auto', a path or None (naming the flag in
            messages).
        fallback: The ``load_from`` that ``--resume`` alone set aside: with
            nothing to resume in the work dir, training starts from it.

    Raises:
        PathNotFoundError: The checkpoint, or the one ``last_checkpoint``
            names, does not exist.
        CheckpointError: ``--resume`` names weights without a training state
            (``meta``), e.g. a converted model.
    """
    load_from = cfg.get('load_from')
    flag = (f"--resume '{load_from}'" if resume not in (None, 'auto') else
            f"load_from = '{load_from}'")
    if cfg.get('resume') and load_from is None:
        pointed = last_checkpoint(cfg.work_dir)
        if pointed is None:
            cfg.resume, cfg.load_from = False, fallback
            start = f"load_from '{fallback}'" if fallback else 'scratch'
            if _is_rank_zero():
                print(f"warning: nothing to resume in '{cfg.work_dir}' (no "
                      f'last_checkpoint there): training starts from {start}'
                      '; pass --resume PATH to resume a checkpoint '
                      'elsewhere', file=sys.stderr)
            if fallback:
                check_resume(cfg)  # the weights it starts from
        elif _is_local(pointed) and not osp.isfile(pointed):
            raise PathNotFoundError(
                f"'{cfg.work_dir}/last_checkpoint' names '{pointed}', which "
                'does not exist; pass --resume PATH with a checkpoint that '
                'does, or delete last_checkpoint to start from scratch')
        return
    if not isinstance(load_from, str) or not _is_local(load_from):
        return
    path = osp.expanduser(load_from)
    if not osp.isfile(path):
        fix = ('check the path, or pass --resume alone to continue from the '
               "work dir's last checkpoint" if flag.startswith('--') else
               'check the path, or set load_from=None to start from scratch')
        what = ('a folder, not a checkpoint file' if osp.isdir(path) else
                'no such file')
        raise PathNotFoundError(f'{flag}: {what}; {fix}')
    if cfg.get('resume'):
        from pixpretrain.utils.checkpoint import safe_load
        # Mapped, not read: only `meta` is looked at, and mmengine reads
        # the whole file again when it resumes.
        checkpoint = safe_load(path, map_location='cpu', mmap=True)
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        if not (isinstance(meta, dict) and 'epoch' in meta
                and 'iter' in meta):
            raise CheckpointError(
                f'{flag}: the file holds weights only (no training state to '
                'resume: epoch, iteration, optimizer); to start a new run '
                f"from these weights use --cfg-options load_from='{path}' "
                'instead of --resume')


def _is_local(path: str) -> bool:
    return '://' not in path


def _is_rank_zero() -> bool:
    """Rank 0 or no launcher, read from the environment: the process group
    does not exist yet."""
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    return rank == '0'
