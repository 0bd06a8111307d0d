"""Caption manifests and prompt captions of labelled data sets."""
import json

import numpy as np
import pytest
from PIL import Image

from pixpretrain.datasets import (SHAPE_CLASSES, ImageCaptionManifest,
                                  ImageFolder, PromptCaptions,
                                  SyntheticShapes)
from pixpretrain.utils.errors import ConfigError, DataRootNotFoundError


def write_images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((6, 5, 3), 40 * i, np.uint8)).save(
            folder / name)


def test_jsonl_manifest_gathers_captions_per_image(tmp_path):
    write_images(tmp_path / 'img', ['a.png', 'b.png'])
    lines = [
        dict(image='img/a.png', caption='a grey square'),
        dict(image='img/b.png', caption=['dark', 'darker']),
        dict(image='img/a.png', caption='  another one '),
    ]
    (tmp_path / 'train.jsonl').write_text(
        '\n'.join(json.dumps(x) for x in lines) + '\n\n')
    dataset = ImageCaptionManifest(
        'train.jsonl', data_root=str(tmp_path),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='TokenizeText',
                       tokenizer=dict(type='ByteTokenizer',
                                      context_length=8),
                       caption_choice='first'),
                  dict(type='PackInputs')])
    assert len(dataset) == 2
    first = dataset.get_data_info(0)
    assert first['img_path'] == str(tmp_path / 'img' / 'a.png')
    assert first['captions'] == ['a grey square', 'another one']
    assert dataset.get_data_info(1)['captions'] == ['dark', 'darker']
    assert list(dataset.iter_captions()) == [
        'a grey square', 'another one', 'dark', 'darker']
    sample = dataset[1]
    assert sample['inputs'].shape == (3, 6, 5)
    assert sample['data_samples'].text_tokens.shape == (8, )


def test_csv_manifest_with_custom_columns(tmp_path):
    write_images(tmp_path, ['x.png'])
    (tmp_path / 'pairs.csv').write_text(
        'file,text\nx.png,"a caption, with a comma"\nx.png,second\n')
    dataset = ImageCaptionManifest(str(tmp_path / 'pairs.csv'),
                                   image_key='file', caption_key='text')
    assert dataset.get_data_info(0) == dict(
        img_path=str(tmp_path / 'x.png'), sample_idx=0,
        captions=['a caption, with a comma', 'second'])


def test_manifest_errors_name_the_line(tmp_path):
    path = tmp_path / 'bad.jsonl'
    path.write_text('{"image": "a.png", "caption": "ok"}\n{"image": "b"}\n')
    with pytest.raises(ConfigError, match='bad.jsonl:2'):
        ImageCaptionManifest(str(path))
    path.write_text('{"image": "a.png", "caption": "ok"}\nnot json\n')
    with pytest.raises(ConfigError, match='bad.jsonl:2: not JSON'):
        ImageCaptionManifest(str(path))
    with pytest.raises(DataRootNotFoundError, match='docs/clip.md'):
        ImageCaptionManifest(str(tmp_path / 'missing.jsonl'))


def test_prompt_captions_fill_templates_with_class_names():
    dataset = PromptCaptions(
        dict(type='SyntheticShapes', num_samples=20, img_size=16),
        templates=['a photo of a {}.', 'a {class} shape'])
    info = dataset.get_data_info(3)
    name = SHAPE_CLASSES[info['gt_label']].replace('_', ' ')
    assert info['captions'] == [f'a photo of a {name}.', f'a {name} shape']
    assert info['img'].shape == (16, 16, 3)
    assert dataset.metainfo['classes'] == SHAPE_CLASSES
    assert len(dataset) == 20
    assert len(list(dataset.iter_captions())) == 40


def test_prompt_captions_over_an_image_folder(tmp_path):
    write_images(tmp_path / 'cat', ['1.png', '2.png'])
    write_images(tmp_path / 'dog', ['1.png'])
    dataset = PromptCaptions(
        ImageFolder(str(tmp_path)), class_names=['kitten', 'puppy'],
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='TokenizeText',
                       tokenizer=dict(type='ByteTokenizer')),
                  dict(type='PackInputs')])
    assert dataset.get_data_info(2)['captions'] == ['a photo of a puppy.']
    assert dataset[0]['data_samples'].gt_label.item() == 0


@pytest.mark.parametrize('templates,match', [
    (['no field'], 'no {} field'),
    (['{} and {}'], 'one {}'),
    (['{name}'], 'one {}'),
    ('a {}', 'non-empty list'),
])
def test_bad_templates_fail_at_build(templates, match):
    with pytest.raises(ConfigError, match=match):
        PromptCaptions(SyntheticShapes(num_samples=2), templates=templates)


def test_class_names_must_match_the_classes():
    dataset = PromptCaptions(SyntheticShapes(num_samples=2),
                             class_names=['one', 'two'])
    with pytest.raises(ConfigError, match='lists 2 names'):
        len(dataset)
