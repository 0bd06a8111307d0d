import pytest
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

from pixpretrain import registry
from pixpretrain.registry import explain
from pixpretrain.utils import UnknownTypeError


def test_children_have_explicit_scope_and_lazy_locations():
    for name in ('MODELS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'HOOKS',
                 'METRICS', 'EVALUATOR', 'LOOPS', 'RUNNERS', 'OPTIMIZERS',
                 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
                 'PARAM_SCHEDULERS', 'VISUALIZERS', 'VISBACKENDS',
                 'LOG_PROCESSORS', 'WEIGHT_INITIALIZERS'):
        reg = getattr(registry, name)
        assert reg.scope == 'pixpretrain'
        assert reg.parent is not None and reg.parent.scope == 'mmengine'
        assert reg._locations and reg._locations[0].startswith('pixpretrain.')
    assert registry.TOKENIZERS.parent is None
    assert registry.TOKENIZERS.scope == 'pixpretrain'


def test_lazy_location_import_registers_models():
    assert registry.MODELS.get('MAE').__name__ == 'MAE'


def test_unknown_type_names_the_closest():
    with pytest.raises(UnknownTypeError) as info:
        registry.MODELS.build(dict(type='MAEDecodr'))
    message = str(info.value)
    assert "'MAEDecodr'" in message and 'pixpretrain::model' in message
    assert 'MAEDecoder' in message and 'custom_imports' in message


def test_unknown_type_through_mmengine_root_is_explained():
    with DefaultScope.overwrite_default_scope('pixpretrain'):
        with pytest.raises(KeyError) as info:
            MMENGINE_MODELS.build(dict(type='VisionTransfromer'))
    assert 'closest registered names: VisionTransformer' in explain(
        info.value)
