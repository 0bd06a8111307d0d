"""Any timm model as a backbone, its layers read through timm's feature API.

timm (``pip install 'pixpretrain[timm]'``) is imported when the backbone is
built, so configs without it never need the library.
"""
import difflib
import re
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from pixpretrain.registry import MODELS
from pixpretrain.utils.errors import bad_value
from pixpretrain.utils.optional import require
from ..utils import checkpoint_forward, layer_index, resolve_out_indices

FEATURE_APIS = ('auto', 'forward_intermediates', 'features_only')
WORDS = dict(kind='feature', of='timm feature levels')


def timm_block_names(model: nn.Module) -> Tuple[str, ...]:
    """The names of a timm model's blocks, read from its
    ``group_matcher(coarse=False)`` (the per-block groups timm also uses
    for layer decay): ViT ``blocks.i``, ResNet ``layerI.j``, ConvNeXt
    ``stages.i.blocks.j`` and ``stages.i.downsample``.

    A block is a module with parameters whose name a ``blocks`` pattern
    with a numbered group matches whole (the unnumbered ones are the final
    norms), and that lies inside no other block. Empty for a model without
    ``group_matcher`` (timm's ``features_only`` wrapper).
    """
    if not hasattr(model, 'group_matcher'):
        return ()
    patterns = model.group_matcher(coarse=False).get('blocks', ())
    # A pattern, or a list of patterns or of (pattern, group order) pairs.
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = [re.compile(p if isinstance(p, str) else p[0])
                for p in patterns]
    numbered = [pattern for pattern in compiled if pattern.groups]
    names: List[str] = []
    for name, module in model.named_modules():
        inside_block = any(name.startswith(block + '.') for block in names)
        if (not inside_block and any(p.fullmatch(name) for p in numbered)
                and next(module.parameters(), None) is not None):
            names.append(name)
    return tuple(names)


def _create(timm, model_name: str, **kwargs) -> nn.Module:
    """``timm.create_model``; an option the model does not take is a
    config error naming it (TimmBackbone passes its unknown keys on)."""
    try:
        return timm.create_model(model_name, **kwargs)
    except TypeError as exc:
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if unknown is None:
            raise
        key = unknown.group(1)
        raise bad_value(f'backbone.{key}', kwargs.get(key),
                        f"timm's {model_name} takes no such option "
                        '(TimmBackbone passes the keys it does not know to '
                        'timm.create_model); remove it') from None


@MODELS.register_module()
class TimmBackbone(BaseModule):
    """A ``timm.create_model`` model whose feature levels are the layers.

    The levels are the entries of the model's ``feature_info``: the stem and
    the stages of a CNN (5 for a ResNet), every block of a ViT. Each level's
    output is a map (B, C_i, H_i, W_i): timm hands token models' blocks out
    with the prefix (class) tokens dropped and the patch tokens on their
    grid, so ``num_prefix_tokens`` is 0 and pooling averages the map.

    Under ``FSDP2Strategy`` each timm block (:meth:`sharding_blocks`) is a
    unit of its own, as our backbones' blocks are.

    With ``with_cp`` the blocks checkpoint themselves through
    pixpretrain's helper rather than timm's ``set_grad_checkpointing``:
    timm's recomputation runs a block's batch norms again in backward and
    counts each batch twice in their running statistics.

    Args:
        model_name: A timm model name, e.g. ``'resnet50'``,
            ``'vit_small_patch16_224'``, ``'convnext_tiny'``.
        pretrained: Load timm's published weights (downloaded from the
            Hugging Face Hub by timm). Off by default.
        out_indices: Levels :meth:`forward` returns (negative counts from
            the end).
        feature_api: 'forward_intermediates' (timm's method on the full
            model; stops after the deepest level asked for),
            'features_only' (timm's feature-extraction wrapper, for models
            without that method), or 'auto' (the first when the model has
            it).
        with_cp: Activation checkpointing of every block
            (:func:`timm_block_names`): keep only each block's input for
            the backward pass and run it again there. Needs
            ``forward_intermediates``.
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')``.
        **model_kwargs: Passed to ``timm.create_model`` (``img_size``,
            ``drop_path_rate``, ``in_chans`` ...).
    """

    #: Keys beyond the signature are timm's; the config checks leave them
    #: to ``timm.create_model`` (see ``_create``).
    passes_kwargs_to = 'timm.create_model'

    def __init__(self,
                 model_name: str,
                 pretrained: bool = False,
                 out_indices: Union[int, Sequence[int]] = -1,
                 feature_api: str = 'auto',
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None,
                 **model_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        timm = require('timm', 'timm', 'TimmBackbone')
        if feature_api not in FEATURE_APIS:
            raise bad_value('backbone.feature_api', feature_api,
                            f"unknown (allowed: {', '.join(FEATURE_APIS)})")
        if not timm.is_model(model_name):
            close = difflib.get_close_matches(
                model_name.split('.')[0], timm.list_models(), n=5)
            raise bad_value(
                'backbone.model_name', model_name,
                'not a timm model (close: '
                f"{', '.join(close) if close else 'none'}; all: "
                'timm.list_models())')
        for key in set(model_kwargs) & {'num_classes', 'features_only'}:
            raise bad_value(f'backbone.{key}', model_kwargs[key],
                            'a backbone has no classifier and picks its '
                            'feature API itself (use feature_api); remove it')
        self.model_name = model_name
        model = None if feature_api == 'features_only' else _create(
            timm, model_name, pretrained=pretrained, num_classes=0,
            **model_kwargs)
        if feature_api == 'auto':
            feature_api = ('forward_intermediates' if hasattr(
                model, 'forward_intermediates') else 'features_only')
        if feature_api == 'features_only':
            model = _create(timm, model_name, pretrained=pretrained,
                            features_only=True, **model_kwargs)
            self.out_channels = tuple(model.feature_info.channels())
        else:
            self.out_channels = tuple(
                level['num_chs'] for level in model.feature_info)
            # The levels come out before the final norm and the head, so
            # those would never get a gradient (DDP stops on such weights):
            # timm's own pruning drops them, keeping every level.
            if hasattr(model, 'prune_intermediate_layers'):
                model.prune_intermediate_layers(
                    len(self.out_channels), prune_norm=True, prune_head=True)
        self.feature_api = feature_api
        # timm initialised (or loaded) the weights in create_model; mmengine
        # would otherwise call the timm model's own init_weights() again
        # and overwrite them.
        model.is_init = True
        self.model = model
        self.num_stages = len(self.out_channels)
        self.num_features = self.out_channels[-1]
        self.num_prefix_tokens = 0
        # A token model's position embedding fixes its input size; the
        # probe and get_flops read it.
        img_size = getattr(getattr(model, 'patch_embed', None), 'img_size',
                           None)
        if img_size is not None:
            self.img_size = tuple(img_size)
        self.out_indices = resolve_out_indices(out_indices, self.num_stages,
                                               **WORDS)
        self.block_names = timm_block_names(model)
        self.with_cp = with_cp
        if with_cp and not self.block_names:
            raise bad_value(
                'backbone.with_cp', with_cp,
                f"timm's {model_name} ({feature_api}) names no blocks to "
                "checkpoint (group_matcher); use feature_api="
                "'forward_intermediates' if the model has it, else remove "
                'with_cp')
        if with_cp:
            for block in self.sharding_blocks():
                checkpoint_forward(block)

    def sharding_blocks(self) -> List[nn.Module]:
        """The timm model's blocks, which ``FSDP2Strategy`` shards one by
        one (empty for timm's ``features_only`` wrapper)."""
        return [self.model.get_submodule(name) for name in self.block_names]

    def forward_intermediates(self, images: torch.Tensor,
                              layers: Sequence[int]) -> List[torch.Tensor]:
        """Outputs of the given feature levels, each (B, C_i, H_i, W_i).

        Args:
            images: (B, C, H, W) normalised images.
            layers: Level indices (negative counts from the end), in the
                order the outputs are returned; repeats are allowed.
        """
        positions = [layer_index(i, self.num_stages, **WORDS)
                     for i in layers]
        wanted = sorted(set(positions))
        if self.feature_api == 'features_only':
            levels = self.model(images)
            outputs = {p: levels[p] for p in wanted}
        else:
            # timm returns the levels in network order, whatever the order
            # asked; stop_early skips the blocks after the deepest.
            levels = self.model.forward_intermediates(
                images, indices=wanted, stop_early=True,
                intermediates_only=True)
            outputs = dict(zip(wanted, levels))
        return [outputs[p] for p in positions]

    def forward(self, images: torch.Tensor) -> tuple:
        """Outputs of the ``out_indices`` levels, each (B, C_i, H_i, W_i)."""
        return tuple(self.forward_intermediates(images, self.out_indices))
