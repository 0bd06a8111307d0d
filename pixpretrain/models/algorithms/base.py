"""The wiring every pretrainer shares: backbone -> neck -> head(s)."""
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import torch
from mmengine.model import BaseModel
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import ConfigError

ModuleCfg = Union[dict, nn.Module]


def build_module(cfg: Optional[ModuleCfg]) -> Optional[nn.Module]:
    """A module from a config dict, or the module itself."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(cfg)


def sample_text_tokens(data_samples: Optional[List],
                       method: str) -> torch.Tensor:
    """The batch's ``text_tokens``, stacked to (B, L).

    Raises:
        ConfigError: The samples carry none (no ``TokenizeText`` in the
            pipeline, or data without captions), naming ``method``.
    """
    if not data_samples or 'text_tokens' not in data_samples[0]:
        raise ConfigError(
            f'{method} needs captions: put TokenizeText before PackInputs '
            'in the training pipeline, on a captioned data set')
    return torch.stack([s.text_tokens for s in data_samples])


class BasePretrainer(BaseModel):
    """Builds the parts and dispatches mmengine's three forward modes.

    Subclasses implement :meth:`loss` (and optionally :meth:`predict`).

    Args:
        backbone: Config or module of the encoder.
        neck: Optional config or module between backbone and head.
        head: One head, or a list / dict of heads sharing the backbone
            (e.g. a generative head beside a classifier). A list is named
            ``head0, head1, ...``; every head is reachable through
            :meth:`named_heads`.
        data_preprocessor: Config of the batch preprocessor; defaults to
            :class:`PixelDataPreprocessor` with ImageNet statistics.
        init_cfg: mmengine init config.
    """

    # Parts a config must give; subclasses add theirs (checked before
    # anything is built, apis/config_checks/values.py).
    required_parts = ('backbone', 'head')
    # Submodules (dotted names) that FSDP2 sharding
    # (pixpretrain.engine.FSDP2Strategy) makes units of their own, besides
    # every block: a part whose weights are changed in place during a step
    # (an EMA copy) must be one, since the root unit's weights stay gathered
    # through the step and writes to gathered weights are lost. Such a part
    # may be called only through its forward.
    sharding_units: Tuple[str, ...] = ()

    def __init__(self,
                 backbone: ModuleCfg,
                 neck: Optional[ModuleCfg] = None,
                 head: Optional[Union[ModuleCfg, Sequence[ModuleCfg],
                                      Dict[str, ModuleCfg]]] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='PixelDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        self.neck = build_module(neck)
        if isinstance(head, dict) and 'type' not in head:
            self.head = nn.ModuleDict(
                {name: build_module(h) for name, h in head.items()})
        elif isinstance(head, (list, tuple)):
            self.head = nn.ModuleDict(
                {f'head{i}': build_module(h) for i, h in enumerate(head)})
        else:
            self.head = build_module(head)

    @classmethod
    def check_train_config(cls, cfg: Mapping[str, Any],
                           world_size: int) -> None:
        """Refuse, before anything is built, a training config this method
        cannot run; nothing to check by default.

        The train API calls it on the config's model class, because some
        limits depend on keys outside ``model`` (the data loader's batch
        size, the number of processes) that the constructor never sees.

        Args:
            cfg: The whole training config.
            world_size: The number of training processes.

        Raises:
            ConfigError: Naming the offending key and its allowed values.
        """

    def named_heads(self) -> Iterator[Tuple[str, nn.Module]]:
        """(name, head) for every head; a single head is named 'head'."""
        if isinstance(self.head, nn.ModuleDict):
            yield from self.head.items()
        elif self.head is not None:
            yield 'head', self.head

    def extract_feat(self, inputs: torch.Tensor,
                     layers: Optional[Sequence[int]] = None
                     ) -> Tuple[torch.Tensor, ...]:
        """Backbone features: ``out_indices`` by default, or given layers.

        Args:
            inputs: (B, C, H, W) normalised images.
            layers: Block / stage indices (negative counts from the end).

        Returns:
            One tensor per requested layer.
        """
        if layers is None:
            return tuple(self.backbone(inputs))
        return tuple(self.backbone.forward_intermediates(inputs, layers))

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        raise NotImplementedError(
            f'{type(self).__name__} must implement loss()')

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List] = None) -> List:
        raise NotImplementedError(
            f'{type(self).__name__} has no predict mode')

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """mmengine's entry point: 'loss' -> dict of losses, 'predict' ->
        list of data samples, 'tensor' -> tuple of backbone features."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise ValueError(
            f"mode must be 'loss', 'predict' or 'tensor', got '{mode}'")
