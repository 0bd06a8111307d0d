"""check_start_weights: a load_from of which nothing would load is refused;
one that loads in part (a new head, a pretrainer's extra parts) is not."""
import pytest
import torch
from mmengine.config import Config
from torch import nn

from pixpretrain.apis.start_weights import check_start_weights
from pixpretrain.utils.errors import CheckpointError


class Classifier(nn.Module):

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.backbone = nn.Linear(4, 8)
        self.head = nn.Linear(8, classes)


def saved(tmp_path, model: nn.Module, **extra) -> str:
    path = tmp_path / 'weights.pth'
    torch.save({'state_dict': {**model.state_dict(), **extra}}, path)
    return str(path)


def test_a_head_for_other_classes_loads_the_rest(tmp_path):
    path = saved(tmp_path, Classifier(100), **{'neck.weight': torch.ones(2)})
    check_start_weights(Classifier(10), Config(dict(load_from=path)))


def test_nothing_that_would_load_is_refused(tmp_path):
    wide = nn.Module()
    wide.backbone, wide.head = nn.Linear(4, 16), nn.Linear(16, 5)
    path = saved(tmp_path, wide)
    with pytest.raises(CheckpointError, match=(
            "no shared weight has the model's shape .*backbone.weight "
            r'\(16, 4\) vs \(8, 4\)')):
        check_start_weights(Classifier(10), Config(dict(load_from=path)))
    other = nn.Module()
    other.encoder = nn.Linear(4, 8)
    with pytest.raises(CheckpointError, match='shares no weight name'):
        check_start_weights(Classifier(10), Config(
            dict(load_from=saved(tmp_path, other))))


def test_resuming_needs_this_models_exact_weights(tmp_path):
    path = saved(tmp_path, Classifier(100))
    with pytest.raises(CheckpointError, match='shape mismatch'):
        check_start_weights(Classifier(10),
                            Config(dict(load_from=path, resume=True)))
    check_start_weights(Classifier(100),
                        Config(dict(load_from=path, resume=True)))
    # nothing named, a URL: left to the loader
    check_start_weights(Classifier(10), Config(dict(load_from=None)))
    check_start_weights(Classifier(10),
                        Config(dict(load_from='https://x/y.pth')))
