"""Captioning end to end through tools/train.py."""
import json
import math
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
TINY_CAPTIONER = str(REPO / 'tests' / 'fixtures' / 'tiny_captioner.py')
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def scalars(work_dir):
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_captioner_trains_and_logs_its_caption_loss(tmp_path):
    assert train_tool.main([
        TINY_CAPTIONER, '--work-dir', str(tmp_path), '--cfg-options',
        'experiment_name=captioner_tiny'
    ]) == 0
    assert (tmp_path / 'iter_4.pth').is_file()
    records = scalars(tmp_path)
    losses = [r['loss_caption'] for r in records if 'loss_caption' in r]
    assert len(losses) == 4 and all(np.isfinite(losses))
    # Bytes of 259 ids: an untrained decoder starts near ln(259) = 5.56.
    assert 4.0 < losses[0] < 7.0
    (val, ) = [r for r in records if 'caption/names_class' in r]
    assert 0 <= val['caption/names_class'] <= 100
    # Held-out NLL per byte token: below the uniform ln(259) = 5.56 after 4
    # steps from near it (5.09 with the runtime's seed 0), and its
    # perplexity is its exponential.
    assert 2.0 < val['caption/nll'] < math.log(259)
    assert val['caption/perplexity'] == pytest.approx(
        math.exp(val['caption/nll']), rel=1e-3)


caption_tool = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/analysis/caption.py')))


def test_caption_tool_prints_captions_and_writes_the_picture(
        tmp_path, capsys):
    assert train_tool.main([
        TINY_CAPTIONER, '--work-dir', str(tmp_path / 'run'),
        '--cfg-options', 'experiment_name=captioner_tiny'
    ]) == 0
    paths = []
    for i, color in enumerate([(255, 0, 0), (0, 0, 255), (0, 255, 0)]):
        paths.append(str(tmp_path / f'{i}.png'))
        Image.new('RGB', (40, 30), color).save(paths[-1])
    out = tmp_path / 'grid.png'
    capsys.readouterr()
    assert caption_tool.main([
        TINY_CAPTIONER, str(tmp_path / 'run' / 'iter_4.pth'), *paths,
        '--beam-size', '2', '--out', str(out)
    ]) == 0
    # mmengine's checkpoint loader prints a line of its own first.
    printed = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith(str(tmp_path))]
    assert [line.split(':')[0] for line in printed] == paths
    with Image.open(out) as picture:
        # 4 columns of 128 + 8 pixels, one row of image and caption lines.
        assert picture.size[0] == 4 * 136 and picture.size[1] > 136


def test_caption_tool_bad_inputs_are_one_line_errors(tmp_path, capsys):
    image = tmp_path / 'a.png'
    Image.new('RGB', (32, 32)).save(image)
    not_image = tmp_path / 'b.png'
    not_image.write_text('text')
    assert caption_tool.main([TINY_CAPTIONER, str(tmp_path / 'x.pth'),
                              str(image)]) == 1
    assert 'no such checkpoint' in capsys.readouterr().err
    ckpt = tmp_path / 'ckpt.pth'
    assert train_tool.main([
        TINY_CAPTIONER, '--work-dir', str(tmp_path / 'run'),
        '--cfg-options', 'train_cfg.max_iters=1'
    ]) == 0
    (ckpt, ) = (tmp_path / 'run').glob('iter_*.pth')
    for bad, words in [(tmp_path / 'missing.png', 'no such image file'),
                       (not_image, 'not a readable image')]:
        assert caption_tool.main([TINY_CAPTIONER, str(ckpt),
                                  str(bad)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0]
    clip = str(REPO / 'tests' / 'fixtures' / 'tiny_clip.py')
    assert caption_tool.main([clip, str(ckpt), str(image)]) == 1
    assert 'does not generate captions' in capsys.readouterr().err
    other = tmp_path / 'wider.py'
    other.write_text(f"_base_ = ['{TINY_CAPTIONER}']\n"
                     'model = dict(head=dict(num_layers=2))\n')
    assert caption_tool.main([str(other), str(ckpt), str(image)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'does not fit ImageCaptioner' in err[0]


@pytest.mark.parametrize('model', [
    "dict(text_backbone=dict(context_length=8))",
    "dict(text_backbone=None, head=dict(_delete_=True, "
    "type='MaskedCaptionHead', image_dims=32, embed_dims=32, "
    "vocab_size=259, context_length=8, num_layers=1, num_heads=2))",
])
def test_a_tokenizer_longer_than_the_model_is_one_line(tmp_path, capsys,
                                                       model):
    config = tmp_path / 'short.py'
    config.write_text(f"_base_ = ['{TINY_CAPTIONER}']\nmodel = {model}\n")
    assert train_tool.main([str(config), '--work-dir',
                            str(tmp_path / 'w')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'exceed context_length=8' in err[0]
    assert "tokenizer.context_length" in err[0]


@pytest.mark.parametrize('fixture, method', [
    ('tiny_captioner.py', 'captioning'), ('tiny_clip.py', 'CLIP'),
    ('tiny_coca.py', 'CoCa')])
def test_uncaptioned_training_data_is_one_line(tmp_path, capsys, fixture,
                                               method):
    config = tmp_path / 'uncaptioned.py'
    config.write_text(
        f"_base_ = ['{REPO / 'tests' / 'fixtures' / fixture}']\n"
        "train_dataloader = dict(dataset=dict(pipeline=["
        "dict(type='PackInputs')]))\n")
    assert train_tool.main([str(config), '--work-dir',
                            str(tmp_path / 'w')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: {method} needs captions: put TokenizeText '
                   'before PackInputs in the training pipeline, on a '
                   'captioned data set']


def test_coca_trains_logs_both_weighted_losses_and_validates(tmp_path):
    tiny_coca = str(REPO / 'tests' / 'fixtures' / 'tiny_coca.py')
    assert train_tool.main([
        tiny_coca, '--work-dir', str(tmp_path), '--cfg-options',
        'experiment_name=coca_tiny'
    ]) == 0
    records = scalars(tmp_path)
    steps = [r for r in records if 'loss' in r]
    assert len(steps) == 4
    for r in steps:
        assert r['loss'] == pytest.approx(
            r['loss_contrastive'] + r['loss_caption'], rel=1e-3)
    # At init: contrastive ~ ln(8) for a batch of 8, caption (weight 2)
    # ~ 2 ln(259) = 11.1 over byte tokens.
    assert 1.0 < steps[0]['loss_contrastive'] < 4.0
    assert 8.0 < steps[0]['loss_caption'] < 14.0
    (val, ) = [r for r in records if 'zero_shot/top1' in r]
    assert 0 <= val['zero_shot/top1'] <= 100
    # One validation scores the reference captions too: after 4 steps the
    # decoder sits between chance over bytes (ln 259 = 5.56) and certainty.
    assert 2.0 < val['caption/nll'] < math.log(259)
    assert val['caption/perplexity'] == pytest.approx(
        math.exp(val['caption/nll']), rel=1e-4)
    # CoCa's caption decoder captions image files through the same tool.
    image = tmp_path / 'a.png'
    Image.new('RGB', (32, 32), (200, 30, 30)).save(image)
    assert caption_tool.main([tiny_coca, str(tmp_path / 'iter_4.pth'),
                              str(image), '--out',
                              str(tmp_path / 'grid.png')]) == 0
    assert (tmp_path / 'grid.png').is_file()


def test_images_off_the_backbone_size_are_one_line(tmp_path, capsys):
    config = tmp_path / 'big.py'
    config.write_text(
        f"_base_ = ['{REPO / 'tests' / 'fixtures' / 'tiny_clip.py'}']\n"
        "model = dict(backbone=dict(img_size=16))\n")
    assert train_tool.main([str(config), '--work-dir',
                            str(tmp_path / 'w')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'expects (16, 16) images' in err[0]
