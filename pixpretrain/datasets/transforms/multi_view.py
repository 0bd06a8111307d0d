"""Several augmented views of one image, for contrastive and
self-distillation methods."""
import copy
from typing import Callable, List, Optional, Sequence, Union

from mmcv.transforms import BaseTransform

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError
from ..base import build_pipeline

Pipeline = Sequence[Union[dict, Callable]]


@TRANSFORMS.register_module()
class MultiView(BaseTransform):
    """Run view pipelines on copies of ``results``; ``img`` becomes the list
    of views (HWC uint8 each), which :class:`PackInputs` packs as a list of
    tensors and the data preprocessor normalises view by view.

    Examples:
        Two views from one pipeline (MoCo, SimCLR)::

            dict(type='MultiView', num_views=2, transforms=[view_pipeline])

        One view from each of two pipelines (BYOL's asymmetric blur and
        solarization)::

            dict(type='MultiView', num_views=[1, 1],
                 transforms=[pipeline_a, pipeline_b])

    Args:
        transforms: One pipeline (a list of transform configs) per entry of
            ``num_views``.
        num_views: Views of each pipeline; an int means ``[num_views]``.
    """

    def __init__(self, transforms: Sequence[Pipeline],
                 num_views: Union[int, Sequence[int]] = 2) -> None:
        if isinstance(num_views, int):
            num_views = [num_views]
        num_views = list(num_views)
        if len(num_views) != len(transforms):
            raise ConfigError(
                f'MultiView num_views {num_views} names {len(num_views)} '
                f'pipelines but transforms holds {len(transforms)}')
        if not num_views or any(n < 1 for n in num_views):
            raise ConfigError(
                f'MultiView num_views must be >= 1 each, got {num_views}')
        self.num_views = num_views
        self.pipelines: List[List[Callable]] = [
            build_pipeline(p) for p in transforms
        ]

    @staticmethod
    def _run(pipeline: List[Callable], results: dict) -> Optional[dict]:
        for transform in pipeline:
            results = transform(results)
            if results is None:
                return None
        return results

    def transform(self, results: dict) -> Optional[dict]:
        """Replace ``results['img']`` by the list of views.

        Returns:
            ``results`` with ``img`` a list of arrays and ``img_shape`` the
            list of their (h, w); None when a view pipeline drops the sample.
        """
        views = []
        for pipeline, count in zip(self.pipelines, self.num_views):
            for _ in range(count):
                # A shallow copy suffices: transforms return new arrays.
                view = self._run(pipeline, copy.copy(results))
                if view is None:
                    return None
                views.append(view['img'])
        results['img'] = views
        results['img_shape'] = [view.shape[:2] for view in views]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_views={self.num_views}, '
                f'pipelines={self.pipelines})')
