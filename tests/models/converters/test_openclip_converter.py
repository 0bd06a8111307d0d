"""OpenCLIP -> pixpretrain CLIP: models created locally with random
weights give the same image and text embeddings after conversion."""
import runpy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pixpretrain.datasets import OpenCLIPTokenizer
from pixpretrain.models.converters import (ConversionError,
                                           openclip_clip_config,
                                           openclip_to_pixpretrain_clip)
from pixpretrain.registry import MODELS

open_clip = pytest.importorskip('open_clip')
from open_clip.model import CLIPTextCfg, CLIPVisionCfg  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
CAPTIONS = ['a photo of a cat.', 'a diagram', 'two dogs playing in the snow']


def tiny_openclip():
    """Two blocks per tower, 32-wide heads, weights drawn at random
    (LayerNorms and biases too, which OpenCLIP initialises to 1 and 0)."""
    torch.manual_seed(0)
    model = open_clip.CLIP(
        32, CLIPVisionCfg(layers=2, width=64, head_width=32, patch_size=8,
                          image_size=32),
        CLIPTextCfg(context_length=77, vocab_size=49408, width=64, heads=2,
                    layers=2))
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if 'ln' in name or name.endswith('bias'):
                tensor.normal_(1.0 if name.endswith('weight') else 0.0, 0.2)
    return model.eval()


def converted_model(source, head_width=64, text_head_width=64):
    converted, left_out = openclip_to_pixpretrain_clip(source.state_dict())
    config = openclip_clip_config(converted, head_width, text_head_width)
    model = MODELS.build(config)
    model.load_state_dict(converted, strict=True)
    return model.eval(), config, left_out


def assert_same_embeddings(source, model, size):
    images = torch.randn(3, 3, size, size)
    tokens = OpenCLIPTokenizer()(CAPTIONS)
    with torch.no_grad():
        image_ref = F.normalize(source.encode_image(images), dim=-1)
        text_ref = F.normalize(source.encode_text(tokens), dim=-1)
        torch.testing.assert_close(model.embed_image(images), image_ref,
                                   atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(model.embed_text(tokens), text_ref,
                                   atol=2e-5, rtol=1e-4)
    assert model.head.scale().item() == pytest.approx(
        source.logit_scale.exp().item())


def test_a_small_custom_openclip_converts_exactly():
    source = tiny_openclip()
    model, config, left_out = converted_model(source, 32, 32)
    assert config['backbone']['arch'] == dict(embed_dims=64, num_layers=2,
                                              num_heads=2, mlp_ratio=4.0)
    assert config['backbone']['img_size'] == 32
    assert left_out == {}
    assert_same_embeddings(source, model, 32)


def test_vit_b_32_layout_converts_exactly():
    torch.manual_seed(0)
    source = open_clip.create_model('ViT-B-32', pretrained=None).eval()
    model, config, _ = converted_model(source)
    assert config['backbone']['arch'] == dict(
        embed_dims=768, num_layers=12, num_heads=12, mlp_ratio=4.0)
    assert (config['backbone']['img_size'],
            config['backbone']['patch_size']) == (224, 32)
    assert config['text_backbone']['arch'] == dict(
        embed_dims=512, num_layers=12, num_heads=8, mlp_ratio=4.0)
    assert (config['text_backbone']['vocab_size'],
            config['text_backbone']['context_length'],
            config['head']['embed_dims']) == (49408, 77, 512)
    assert_same_embeddings(source, model, 224)


def test_other_towers_are_refused_with_the_keys():
    state = tiny_openclip().state_dict()
    state['visual.attn_pool.query'] = torch.zeros(1, 64)
    with pytest.raises(ConversionError, match='visual.attn_pool.query'):
        openclip_to_pixpretrain_clip(state)


def test_tool_writes_a_checkpoint_init_model_loads(tmp_path, capsys):
    source = tiny_openclip()
    src, dst = tmp_path / 'openclip.pt', tmp_path / 'clip.pth'
    torch.save(source.state_dict(), src)
    tool = runpy.run_path(
        str(REPO / 'tools/model_converters/openclip2pixpretrain_clip.py'))
    # 32-wide heads: the tool's check assumes OpenCLIP's 64, which
    # describes this model with 1 head; loading does not depend on it.
    assert tool['main']([str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert '62 of 62 tensors converted' in out
    assert 'every tensor loads strictly into' in out
    saved = torch.load(dst, weights_only=True)['state_dict']
    converted, _ = openclip_to_pixpretrain_clip(source.state_dict())
    assert saved.keys() == converted.keys()
    assert tool['main']([str(tmp_path / 'missing.pt'), str(dst)]) == 1


def test_the_openclip_config_holds_what_the_weights_need():
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / 'configs/clip/vit-b-32_openclip.py'))
    torch.manual_seed(0)
    source = open_clip.create_model('ViT-B-32', pretrained=None)
    converted, _ = openclip_to_pixpretrain_clip(source.state_dict())
    MODELS.build(cfg.model).load_state_dict(converted, strict=True)
    assert cfg.test_evaluator.tokenizer.type == 'OpenCLIPTokenizer'
    assert cfg.test_dataloader.dataset.pipeline[0]['size'] == 224


def test_zero_shot_classifier_equals_open_clips_prompt_ensemble():
    from pixpretrain.evaluation import ZeroShotAccuracy
    source = tiny_openclip()
    model, _, _ = converted_model(source, 32, 32)
    templates = ['a photo of a {}.', 'a blurry photo of the {}.']
    metric = ZeroShotAccuracy(templates, dict(type='OpenCLIPTokenizer'),
                              class_names=['cat', 'traffic light'])
    metric.prepare(model)
    # OpenCLIP's recipe by hand: mean of the unit prompt embeddings.
    rows = []
    with torch.no_grad():
        for name in ['cat', 'traffic light']:
            tokens = open_clip.tokenize([t.format(name) for t in templates])
            prompts = F.normalize(source.encode_text(tokens), dim=-1)
            rows.append(F.normalize(prompts.mean(0), dim=-1))
    torch.testing.assert_close(metric.classifier, torch.stack(rows),
                               atol=2e-5, rtol=1e-4)
