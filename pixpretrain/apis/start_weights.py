"""The weights a Runner starts from (``load_from``, ``--resume``), checked
against the model it built before anything runs: mmengine loads them
leniently, with a warning, so another model's checkpoint would test, or
train, the random weights it leaves."""
from typing import Any

from mmengine.config import Config

from pixpretrain.models.utils import unwrap_model
from pixpretrain.utils.errors import CheckpointError


def check_checkpoint_fits(model: Any, checkpoint: str) -> None:
    """Refuse a local checkpoint whose weights do not fit the model exactly
    (testing, and resuming).

    Args:
        model: The Runner's model (a DDP wrapper is looked through; a model
            a strategy has yet to build is not checked).
        checkpoint: The checkpoint's path or URL (a URL is not checked).

    Raises:
        CheckpointError: A key missing, unexpected or of another shape.
    """
    from torch import nn

    from pixpretrain.utils.pretrained import check_fits, checkpoint_state_dict
    model = unwrap_model(model)
    if '://' in checkpoint or not isinstance(model, nn.Module):
        return
    check_fits(model, checkpoint_state_dict(checkpoint, mmap=True),
               checkpoint)


def check_start_weights(model: Any, cfg: Config) -> None:
    """Refuse what a training run would start from in vain: a checkpoint to
    resume that is not this model's (:func:`check_checkpoint_fits`), or a
    ``load_from`` of which no weight would load (no shared name, or none of
    the model's shape). Keys only one side has, and shared ones of another
    shape, are normal when starting from another stage (a pretrainer's
    decoder, a classifier's head for other classes) and are left to
    mmengine's warning.

    Args:
        model: The Runner's model.
        cfg: The prepared training config.

    Raises:
        CheckpointError: Naming the checkpoint and what does not fit.
    """
    from torch import nn

    from pixpretrain.utils.pretrained import checkpoint_state_dict
    load_from = cfg.get('load_from')
    model = unwrap_model(model)
    if not isinstance(load_from, str) or '://' in load_from \
            or not isinstance(model, nn.Module):
        return
    if cfg.get('resume'):
        check_checkpoint_fits(model, load_from)
        return
    given = checkpoint_state_dict(load_from, mmap=True)
    expected = model.state_dict()
    shared = [key for key in expected if key in given]
    if not shared:
        raise CheckpointError(
            f"load_from '{load_from}' shares no weight name with "
            f'{type(model).__name__} (its keys begin '
            f"{', '.join(sorted(given)[:3])}; the model's "
            f"{', '.join(sorted(expected)[:3])}): give a checkpoint of this "
            'model, or convert it first (tools/model_converters)')
    fitting = [key for key in shared
               if given[key].shape == expected[key].shape]
    if not fitting:
        shown = ', '.join(f'{key} {tuple(given[key].shape)} vs '
                          f'{tuple(expected[key].shape)}'
                          for key in shared[:3])
        raise CheckpointError(
            f"load_from '{load_from}' does not fit {type(model).__name__}: "
            f'no shared weight has the model\'s shape (checkpoint vs model: '
            f'{shown}{" ..." if len(shared) > 3 else ""}); mmengine would '
            'load nothing: give the checkpoint of a model with these sizes')
