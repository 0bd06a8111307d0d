"""CLIP end to end: train with zero-shot validation; fit a BPE for a config."""
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from pixpretrain.datasets import BPETokenizer

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / 'tests' / 'fixtures' / 'tiny_clip.py')
fit_bpe = SimpleNamespace(**runpy.run_path(
    str(REPO / 'tools/dataset_converters/fit_bpe.py')))
train_tool = SimpleNamespace(**runpy.run_path(str(REPO / 'tools/train.py')))


def scalars(work_dir):
    (log, ) = Path(work_dir).glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_clip_trains_and_validates_zero_shot(tmp_path):
    assert train_tool.main([
        TINY, '--work-dir', str(tmp_path), '--cfg-options',
        'experiment_name=clip_tiny'
    ]) == 0
    assert (tmp_path / 'iter_4.pth').is_file()
    records = scalars(tmp_path)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert all(r['logit_scale'] <= 100 for r in records if 'loss' in r)
    (val, ) = [r for r in records if 'zero_shot/top1' in r]
    assert 0 <= val['zero_shot/top1'] <= 100
    assert val['zero_shot/top5'] >= val['zero_shot/top1']


def test_fit_bpe_writes_the_vocab_file_the_config_names(tmp_path, capsys):
    lines = []
    for i, caption in enumerate(['a red ball', 'a red car', 'the red car',
                                 'a blue ball']):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(
            tmp_path / f'{i}.png')
        lines.append(json.dumps(dict(image=f'{i}.png', caption=caption)))
    (tmp_path / 'train.jsonl').write_text('\n'.join(lines))
    vocab_file = tmp_path / 'run' / 'bpe.json'
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"_base_ = ['{REPO}/configs/clip/vit-b-32_own-data.py']\n"
        f"tokenizer = dict(type='BPETokenizer', vocab_file='{vocab_file}',\n"
        "                 context_length=16)\n"
        "train_dataloader = dict(dataset=dict(\n"
        f"    data_root='{tmp_path}', ann_file='train.jsonl',\n"
        "    pipeline=[dict(type='TokenizeText', tokenizer=tokenizer)]))\n"
        "model = dict(text_backbone=dict(vocab_size=262))\n")
    assert fit_bpe.main([str(config)]) == 0
    tokenizer = BPETokenizer(vocab_file=str(vocab_file))
    assert tokenizer.vocab_size == 262  # the text backbone's vocab_size
    assert tokenizer.decode(tokenizer.encode('a red car')) == 'a red car'
    assert len(tokenizer.encode('a red car')) < len('a red car')
    # the vocabulary checkpoints were trained with stays unless asked
    assert fit_bpe.main([str(config)]) == 1
    assert capsys.readouterr().err.startswith(
        f"error: vocab_file '{vocab_file}' exists and checkpoints trained "
        'with that vocabulary read it: pass --overwrite')
    assert fit_bpe.main([str(config), '--overwrite']) == 0


def test_fit_bpe_refuses_a_vocabulary_below_the_bytes_before_reading(
        tmp_path, capsys):
    config = tmp_path / 'cfg.py'
    config.write_text(  # its data root does not exist: never read
        f"_base_ = ['{REPO}/configs/clip/vit-b-32_own-data.py']\n"
        "train_dataloader = dict(dataset=dict(data_root='/nonexistent'))\n")
    out = str(tmp_path / 'bpe.json')
    assert fit_bpe.main([str(config), '--out', out,
                         '--vocab-size', '100']) == 1
    assert capsys.readouterr().err.startswith(
        'error: vocab_size = 100: a byte-level BPE vocabulary holds at '
        'least 259 ids')


def test_own_data_recipe_names_its_tokenizer_file_and_the_tool():
    from mmengine.config import Config

    from pixpretrain.registry import TRANSFORMS
    from pixpretrain.utils.errors import DataRootNotFoundError
    cfg = Config.fromfile(
        str(REPO / 'configs' / 'clip' / 'vit-b-32_own-data.py'))
    (step, ) = [s for s in cfg.train_dataloader.dataset.pipeline
                if s['type'] == 'TokenizeText']
    assert step['tokenizer']['vocab_file'] == \
        'work_dirs/vit-b-32_own-data/bpe.json'
    try:
        TRANSFORMS.build(step)
    except DataRootNotFoundError as exc:
        assert 'fit_bpe.py' in str(exc)
    else:
        assert Path('work_dirs/vit-b-32_own-data/bpe.json').is_file()


def test_own_data_recipe_follows_the_paper_and_builds():
    from mmengine.config import Config

    from pixpretrain.registry import MODELS
    from pixpretrain.registry import register_all_modules
    cfg = Config.fromfile(
        str(REPO / 'configs' / 'clip' / 'vit-b-32_own-data.py'))
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.betas, optimizer.eps,
            optimizer.weight_decay) == ('AdamW', 5e-4, (0.9, 0.98), 1e-6,
                                        0.2)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.by_epoch, warmup.end) == (False, 2000)
    assert (cosine.type, cosine.end) == ('CosineAnnealingLR',
                                         cfg.train_cfg.max_epochs)
    assert cfg.auto_scale_lr == dict(base_batch_size=32768, enable=True)
    register_all_modules()
    model = MODELS.build(cfg.model)
    assert model.backbone.patch_size == 32 and model.backbone.embed_dims == 768
    assert model.text_backbone.embed_dims == 512
    assert len(model.text_backbone.blocks) == 12
