"""check_evaluator_inputs: a metric whose input only some transform writes
(CaptionNLL: TokenizeText) is refused before training or testing when its
loader's pipeline lacks that transform, and accepted wherever the transform
(or a subclass of it) sits, nested wrappers included."""
import copy
from pathlib import Path

import pytest
from mmengine.config import Config

from pixpretrain.apis import load_config
from pixpretrain.apis.config_checks import check_evaluator_inputs
from pixpretrain.datasets.transforms.text import TokenizeText
from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
CAPTIONER = REPO / 'tests' / 'fixtures' / 'tiny_captioner.py'


@pytest.fixture(scope='module')
def captioner() -> Config:
    return load_config(str(CAPTIONER))


def with_val_pipeline(cfg: Config, pipeline) -> Config:
    cfg = copy.deepcopy(cfg)
    cfg.val_dataloader.dataset.pipeline = pipeline
    return cfg


@pytest.mark.parametrize('path', sorted(
    str(p.relative_to(REPO)) for p in (REPO / 'configs').rglob('*.py')
    if '_base_' not in p.parts))
def test_every_shipped_config_passes(path):
    check_evaluator_inputs(load_config(str(REPO / path)), ['val', 'test'])


@pytest.mark.parametrize('choice', [{}, dict(caption_choice='random')])
def test_a_random_reference_caption_is_refused(captioner, choice):
    tokenize = dict(captioner.val_dataloader.dataset.pipeline[0])
    del tokenize['caption_choice']
    cfg = with_val_pipeline(captioner, [dict(tokenize, **choice),
                                        dict(type='PackInputs')])
    with pytest.raises(ConfigError, match="caption_choice='first'"):
        check_evaluator_inputs(cfg, ['val'])


def test_train_and_test_setup_run_the_check(captioner, tmp_path):
    from pixpretrain.apis.test import prepare_test_config
    from pixpretrain.apis.train import prepare_train_config
    cfg = with_val_pipeline(captioner, [dict(type='PackInputs')])
    with pytest.raises(ConfigError, match='CaptionNLL needs TokenizeText'):
        prepare_train_config(copy.deepcopy(cfg), str(CAPTIONER),
                             work_dir=str(tmp_path / 'train'))
    checkpoint = tmp_path / 'iter_4.pth'
    checkpoint.write_bytes(b'')
    cfg.test_dataloader = cfg.val_dataloader
    with pytest.raises(ConfigError, match='CaptionNLL needs TokenizeText'):
        prepare_test_config(cfg, str(CAPTIONER), str(checkpoint),
                            work_dir=str(tmp_path / 'test'))
    assert not (tmp_path / 'train').exists()


def test_caption_nll_without_tokenize_text_is_one_error(captioner):
    cfg = with_val_pipeline(captioner, [dict(type='PackInputs')])
    with pytest.raises(ConfigError, match=(
            r"val_evaluator: CaptionNLL needs TokenizeText\(caption_choice="
            r"'first'\) in val_dataloader\.dataset\.pipeline")):
        check_evaluator_inputs(cfg, ['val'])
    # the test stage reads its own pair, which still tokenizes
    check_evaluator_inputs(cfg, ['test'])


def test_an_evaluator_dict_with_metrics_is_checked(captioner):
    cfg = with_val_pipeline(captioner, [dict(type='PackInputs')])
    cfg.val_evaluator = dict(type='Evaluator',
                             metrics=[dict(type='CaptionNLL')])
    with pytest.raises(ConfigError, match='CaptionNLL needs TokenizeText'):
        check_evaluator_inputs(cfg, ['val'])


def test_a_metric_without_requirements_needs_nothing(captioner):
    cfg = with_val_pipeline(captioner, [dict(type='PackInputs')])
    cfg.val_evaluator = dict(type='CaptionNamesClass',
                             tokenizer=dict(type='ByteTokenizer'))
    check_evaluator_inputs(cfg, ['val'])


def test_a_nested_or_subclassed_tokenizer_counts(captioner):
    tokenize = dict(captioner.val_dataloader.dataset.pipeline[0])
    nested = [dict(type='MultiView', num_views=1, transforms=[[tokenize]]),
              dict(type='PackInputs')]
    check_evaluator_inputs(with_val_pipeline(captioner, nested), ['val'])

    @TRANSFORMS.register_module(force=True)
    class LowercaseThenTokenize(TokenizeText):
        pass

    subclassed = [dict(tokenize, type='LowercaseThenTokenize'),
                  dict(type='PackInputs')]
    check_evaluator_inputs(with_val_pipeline(captioner, subclassed), ['val'])


def test_required_transforms_may_name_transforms_alone(captioner,
                                                       monkeypatch):
    from pixpretrain.evaluation.metrics.caption import CaptionNLL
    monkeypatch.setattr(CaptionNLL, 'required_transforms', ('TokenizeText', ))
    check_evaluator_inputs(captioner, ['val'])
    cfg = with_val_pipeline(captioner, [dict(type='PackInputs')])
    with pytest.raises(ConfigError, match=r'needs TokenizeText\(\) in'):
        check_evaluator_inputs(cfg, ['val'])


def test_every_dataset_of_a_concat_needs_the_transform(captioner):
    tokenize = dict(captioner.val_dataloader.dataset.pipeline[0])
    source = copy.deepcopy(captioner.val_dataloader.dataset)
    source.pipeline = []
    tokenizing = dict(source, pipeline=[tokenize, dict(type='PackInputs')])
    bare = dict(source, pipeline=[dict(type='PackInputs')])
    cfg = copy.deepcopy(captioner)
    cfg.val_dataloader.dataset = dict(type='ConcatDataset',
                                      datasets=[tokenizing, bare])
    with pytest.raises(ConfigError, match=(
            r'CaptionNLL needs TokenizeText\(.*\) in val_dataloader\.dataset'
            r'\.pipeline of every dataset')):
        check_evaluator_inputs(cfg, ['val'])
    cfg.val_dataloader.dataset.datasets = [tokenizing, tokenizing]
    check_evaluator_inputs(cfg, ['val'])
    # a wrapper's own pipeline reaches every dataset it wraps
    inner = source.dataset
    cfg.val_dataloader.dataset = dict(
        source, pipeline=[tokenize, dict(type='PackInputs')],
        dataset=dict(type='ConcatDataset', datasets=[inner, inner]))
    check_evaluator_inputs(cfg, ['val'])


def test_zero_shot_accuracy_needs_its_hook():
    cfg = load_config(str(REPO / 'tests' / 'fixtures' / 'tiny_clip.py'))
    check_evaluator_inputs(cfg, ['val', 'test'])
    cfg.custom_hooks = [dict(type='EMAHook')]
    with pytest.raises(ConfigError, match=(
            r"^test_evaluator: ZeroShotAccuracy needs ZeroShotHook in "
            r"custom_hooks: add custom_hooks = \[dict\(type='ZeroShotHook'"
            r"\)\]")):
        check_evaluator_inputs(cfg, ['test'])

    from pixpretrain.engine.hooks.zero_shot_hook import ZeroShotHook
    from pixpretrain.registry import HOOKS

    @HOOKS.register_module(force=True)
    class LoggedZeroShotHook(ZeroShotHook):
        pass

    cfg.custom_hooks.append(dict(type='LoggedZeroShotHook'))
    check_evaluator_inputs(cfg, ['val', 'test'])
    # mmengine registers a new default_hooks name as a hook as well
    cfg.custom_hooks = []
    cfg.default_hooks['zero_shot'] = dict(type='ZeroShotHook')
    check_evaluator_inputs(cfg, ['val', 'test'])
