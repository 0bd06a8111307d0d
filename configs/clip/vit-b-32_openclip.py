# OpenCLIP ViT-B/32 weights in pixpretrain's CLIP: the architecture they
# load into strictly (ln_pre, no patch bias, LayerNorm eps 1e-5), CLIP's
# 49,408-token BPE through OpenCLIPTokenizer (pip install
# 'pixpretrain[openclip]'), and zero-shot CIFAR-10 (test split resized to
# 224 px) as the test. Convert, then test or train from the weights:
#   python tools/model_converters/openclip2pixpretrain_clip.py \
#       open_clip_vit-b-32.pt work_dirs/openclip_vit-b-32.pth
#   python tools/test.py configs/clip/vit-b-32_openclip.py \
#       work_dirs/openclip_vit-b-32.pth
# (docs/field_libraries.md). Exact for OpenCLIP's GELU towers, not for
# OpenAI's QuickGELU ones.
_base_ = [
    '../_base_/models/clip_vit-b-32.py',
    '../_base_/datasets/cifar10_captions.py',
    '../_base_/schedules/adamw_clip.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(pre_norm=True, patch_bias=False, layer_norm_eps=1e-5),
    text_backbone=dict(eot_id=49407, layer_norm_eps=1e-5))

tokenizer = dict(type='OpenCLIPTokenizer', context_length=77)
train_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.9, 1.0),
         interpolation='bicubic'),
    dict(type='TokenizeText', tokenizer=tokenizer),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', size=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(tokenizer=tokenizer)
test_evaluator = val_evaluator
# Embeds the class prompts with the text tower before each evaluation.
custom_hooks = [dict(type='ZeroShotHook')]
