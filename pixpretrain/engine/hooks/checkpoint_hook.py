"""mmengine's CheckpointHook, reordered so that a crash while saving never
leaves resume without a complete checkpoint."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from pixpretrain.registry import HOOKS
from pixpretrain.utils.fileio import (remove_partial_writes,
                                      write_last_checkpoint)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) whose saves survive a crash.

    mmengine 0.10.7's hook deletes the oldest kept checkpoint *before*
    writing the new one (with ``max_keep_ckpts=1`` that is the very file
    ``last_checkpoint`` names) and rewrites ``last_checkpoint`` in place. This
    one saves in an order where every moment has a complete checkpoint that
    ``last_checkpoint`` names:

    1. the new checkpoint, atomically (the local file backend pixpretrain
       installs writes to a temporary name, fsyncs, renames);
    2. then ``last_checkpoint``, atomically, now naming it;
    3. only then deletes the checkpoint that fell out of ``max_keep_ckpts``.

    Before training it deletes the temporary files a save killed mid-write
    left in the work dir and the checkpoint folder.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process():
            return
        folders = {runner.work_dir}
        if isinstance(self.file_backend, LocalBackend):
            folders.add(self.out_dir)
        for folder in sorted(folders):
            for path in remove_partial_writes(folder):
                runner.logger.info(
                    f'removed {path}, left by a save that was interrupted')

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        expired = self._keep(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        # The checkpoint's message hub records itself as the last one and
        # the kept steps including itself, as mmengine's hook does.
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        write_last_checkpoint(runner.work_dir, self.last_ckpt)
        if expired is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(expired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)

    def _keep(self, runner, step: int) -> Optional[int]:
        """Add ``step`` to the kept checkpoints; return the step that falls
        out of ``max_keep_ckpts`` (deleted once the new one is saved)."""
        if self.max_keep_ckpts <= 0:
            return None
        # Saving the best checkpoint saves the current step a second time.
        if self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step:
            return None
        expired = None
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            expired = self.keep_ckpt_ids.popleft()
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return expired
