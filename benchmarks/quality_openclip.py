"""pixpretrain's CLIP against OpenCLIP 3.3.0 on the same budget: zero-shot
CIFAR-10 accuracy after N steps, each toolbox in a fresh process.

The model is ``configs/clip/vit-tiny-p8_cifar10-captions.py``: a 6 x 128
ViT on 8 x 8 patches of 32 px images, a 2 x 128 causal text transformer over
pixpretrain's byte tokens (context 48, 259 ids), a 128-d embedding.

* ``--worker pix`` trains that config through mmengine's Runner (the code
  path of ``tools/train.py``: ``load_config`` -> ``prepare_train_config`` ->
  ``Runner.from_cfg``) with ``max_iters=N``, the warm-up and cosine following
  N, seed S, one data worker, no validation during training.
* ``--worker openclip`` builds ``open_clip.model.CLIP`` from vision/text cfg
  dicts (random init, nothing downloaded) and trains it with
  ``open_clip.loss.ClipLoss`` and OpenCLIP's clamp of ``logit_scale`` to
  [0, ln 100] after every step, in a plain loop that mirrors
  ``open_clip_train``'s.

Both are then scored by the project's evaluator
(:func:`pixpretrain.evaluation.build_zero_shot_classifier` and
:func:`~pixpretrain.evaluation.zero_shot_accuracy`, the config's 18 test
templates and tokenizer) on the CIFAR-10 test split or an evenly spaced,
class-balanced subset of it (``--test-samples``).

What is equal: the images, their order and their augmentations (both build
the config's caption data set and loader with mmengine's
``Runner.build_dataloader`` and the same seed; the JSON records a checksum of
the first batch), the captions and token ids (pixpretrain's tokenizer; OpenCLIP
pools the text at the first end-of-text id, ``pool_type='eos'``, as
pixpretrain's ``TextTransformer`` does: its default ``'argmax'`` assumes the
end-of-text id is the largest, which byte ids are not), the data
preprocessor (pixpretrain's, mean/std of CIFAR-10), widths, depths, heads,
MLP ratio, patch size, context length, vocabulary, the class-token image
feature, LayerNorm eps 1e-6, no LayerNorm before the ViT blocks (pixpretrain's
ViT has none; OpenCLIP's ``no_ln_pre=True``), bias-free projections to the
embedding with std width^-0.5, the initial temperature 0.07 and its bounds
[1, 100], the symmetric InfoNCE, float32, AdamW (lr, betas (0.9, 0.98), eps
1e-6, weight decay 0.2), the parameters spared weight decay (gains, biases,
the logit scale, the class token and the position embeddings of both towers,
as pixpretrain's ``adamw_clip`` schedule; ``open_clip_train`` would spare the
1-d parameters only, i.e. decay the position embeddings), the lr per step
(mmengine's LinearLR from 1e-2 then CosineAnnealingLR to 1e-5, computed by
:func:`warmup_cosine_lr` on the OpenCLIP side), batch size, steps, threads.

What could not be made equal (each toolbox's own code, kept as it is):
initialisation of the towers (pixpretrain: xavier-uniform Linear layers,
class token and position embeddings with std 0.02; OpenCLIP: PyTorch's
default init of ``nn.MultiheadAttention``/``nn.Linear`` in the ViT and
std width^-0.5 for its class and position embeddings, CLIP's scaled normal
init in the text tower), the attention implementation (pixpretrain:
``scaled_dot_product_attention``, causal by ``is_causal`` on the columns up
to the batch's last end-of-text token; OpenCLIP: ``nn.MultiheadAttention``
with a float causal mask over all 48 positions: the same function, other
kernels and rounding), the patch embedding's bias (pixpretrain's conv has
one, OpenCLIP's has none), and the random numbers drawn for the
initialisation.

Example (CPU: four runs of 3-4 minutes on 2 shared cores; figures in
docs/benchmarks.md):

    python benchmarks/quality_openclip.py --seeds 0 1 --steps 200 \
        --batch-size 128 --json benchmarks/results/quality_clip.json \
        --plot docs/images/quality_clip_loss.png

``--cross-init`` trains each toolbox from the other's initial weights for
the seed instead (converted by :func:`pix_to_openclip` /
:func:`openclip_to_pix`; the same weights give the same embeddings in both
to float32 rounding): what then remains between them is the code, not the
initialisation.
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'clip', 'vit-tiny-p8_cifar10-captions.py')
DEFAULT_DATA = osp.join(osp.expanduser('~'), '.cache', 'pixpretrain',
                        'cifar10')
TOOLBOXES = ('pix', 'openclip')
# Losses are reported as means over windows of this many steps.
WINDOW = 10
# The config's schedule: 50 warm-up steps of 400, LinearLR from 1e-2 of the
# lr, cosine down to an lr of 1e-5.
WARMUP_FRACTION = 50 / 400
START_FACTOR = 1e-2
ETA_MIN = 1e-5
MAX_LOGIT_SCALE = 100.0


def warmup_steps(steps: int) -> int:
    """The warm-up length for a run of ``steps``: the config's 1/8, at
    least 2 steps (mmengine's LinearLR over 1 step never leaves its start
    factor, and the cosine after it would scale that)."""
    return max(2, round(steps * WARMUP_FRACTION))


def warmup_cosine_lr(step: int, base_lr: float, warmup: int, total: int,
                     start_factor: float = START_FACTOR,
                     eta_min: float = ETA_MIN) -> float:
    """The lr of 0-based ``step`` under mmengine's LinearLR (begin 0, end
    ``warmup``) followed by CosineAnnealingLR (begin ``warmup``, end
    ``total``, T_max ``total - warmup``), stepped after every iteration.

    mmengine's LinearLR reaches the full lr at step ``warmup - 1`` (it spans
    ``end - begin - 1`` steps), hence the ``warmup - 1`` below.
    """
    if step < warmup:
        span = max(warmup - 1, 1)
        factor = start_factor + (1.0 - start_factor) * min(step, span) / span
        return base_lr * factor
    progress = (step - warmup) / (total - warmup)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2


def load_cfg(steps: int, seed: int, batch_size: int, data_root: str,
             work_dir: str):
    """The CIFAR-10 CLIP config for a run of ``steps``: schedule following
    ``steps``, one data worker, no validation, loss logged every 10 steps.

    Returns:
        (Config, dict): The training config, and the zero-shot evaluation
        settings it had (test data set config, templates, tokenizer).
    """
    from mmengine.config import ConfigDict

    from pixpretrain.apis import load_config
    cfg = load_config(CONFIG)
    evaluation = dict(dataset=cfg.test_dataloader.dataset.copy(),
                      templates=list(cfg.test_evaluator.templates),
                      tokenizer=cfg.test_evaluator.tokenizer.copy())
    evaluation['dataset']['data_root'] = data_root
    loader = cfg.train_dataloader
    loader.batch_size = batch_size
    loader.num_workers = 1
    loader.dataset.dataset.data_root = data_root
    warmup = warmup_steps(steps)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=START_FACTOR, by_epoch=False,
             begin=0, end=warmup),
        dict(type='CosineAnnealingLR', T_max=steps - warmup,
             eta_min=ETA_MIN, by_epoch=False, begin=warmup, end=steps),
    ]
    cfg.train_cfg = ConfigDict(type='ResumableIterBasedTrainLoop',
                               max_iters=steps, val_interval=steps + 1)
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg',
                'test_dataloader', 'test_evaluator', 'test_cfg'):
        cfg[key] = None
    cfg.custom_hooks = []  # the ZeroShotHook validates; evaluated after
    cfg.default_hooks.logger.interval = WINDOW
    cfg.default_hooks.checkpoint.interval = steps
    cfg.randomness = dict(seed=seed, diff_rank_seed=True)
    cfg.work_dir = work_dir
    return cfg, evaluation


def loss_curve(losses: Sequence[float], window: int = WINDOW
               ) -> List[List[float]]:
    """[[step, mean loss of steps step - window + 1 ... step], ...] at every
    ``window``-th step (1-based), and at the last step if it falls between.
    """
    points = []
    for end in range(window, len(losses) + 1, window):
        points.append([end, sum(losses[end - window:end]) / window])
    if losses and len(losses) % window:
        tail = losses[-(len(losses) % window):]
        points.append([len(losses), sum(tail) / len(tail)])
    return points


def final_loss(losses: Sequence[float], window: int = WINDOW) -> float:
    """Mean of the last ``window`` losses."""
    tail = list(losses[-window:])
    return sum(tail) / len(tail)


def evaluate_zero_shot(embed_image: Callable, embed_text: Callable,
                       preprocess: Callable, evaluation: dict,
                       test_samples: Optional[int] = None,
                       batch_size: int = 256) -> Dict[str, float]:
    """Zero-shot top-1/top-5 (%) with the project's evaluator.

    Args:
        embed_image: (B, 3, 32, 32) normalised images -> (B, E).
        embed_text: (N, L) token ids -> (N, E).
        preprocess: pixpretrain's data preprocessor (``training=False``).
        evaluation: From :func:`load_cfg`.
        test_samples: Evenly spaced, class-balanced subset of the test
            split; None for all 10,000.
    """
    import torch
    from mmengine.runner import Runner

    from pixpretrain.datasets.prompt_captions import readable_class_name
    from pixpretrain.datasets.tokenizers import build_tokenizer
    from pixpretrain.evaluation import (build_zero_shot_classifier,
                                        zero_shot_accuracy)
    dataset = evaluation['dataset'].copy()
    if test_samples:
        dataset['indices'] = test_samples
    loader = Runner.build_dataloader(dict(
        batch_size=batch_size, num_workers=0, dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate')))
    classes = [readable_class_name(c)
               for c in loader.dataset.metainfo['classes']]
    with torch.no_grad():
        classifier = build_zero_shot_classifier(
            embed_text, build_tokenizer(evaluation['tokenizer']), classes,
            evaluation['templates'])  # (10, E)
        embeddings, labels = [], []
        for batch in loader:
            data = preprocess(batch, training=False)
            embeddings.append(embed_image(data['inputs']))
            labels.extend(int(s.gt_label) for s in data['data_samples'])
    scores = zero_shot_accuracy(torch.cat(embeddings), torch.tensor(labels),
                                classifier, topk=(1, 5))
    scores['test_images'] = len(labels)
    return scores


def _checksum(data: dict) -> List[float]:
    """Sums of a preprocessed batch's images and token ids: equal first
    batches give equal checksums."""
    import torch
    tokens = torch.stack([s.text_tokens for s in data['data_samples']])
    return [float(data['inputs'].double().sum()), int(tokens.sum())]


def _decay_split(params) -> Dict[str, int]:
    """Numbers of parameter elements with and without weight decay, from an
    optimizer's param groups."""
    split = dict(decay=0, no_decay=0)
    for group in params:
        key = 'decay' if group['weight_decay'] > 0 else 'no_decay'
        split[key] += sum(p.numel() for p in group['params'])
    return split


# pixpretrain name -> OpenCLIP name, for the same-initialisation
# diagnostic (``--cross-init``); block-internal names below.
NAMES = {
    'backbone.cls_token': 'visual.class_embedding',
    'backbone.pos_embed': 'visual.positional_embedding',
    'backbone.patch_embed.weight': 'visual.conv1.weight',
    'backbone.norm.weight': 'visual.ln_post.weight',
    'backbone.norm.bias': 'visual.ln_post.bias',
    'head.image_proj.weight': 'visual.proj',
    'head.text_proj.weight': 'text_projection',
    'head.logit_scale': 'logit_scale',
    'text_backbone.pos_embed': 'positional_embedding',
    'text_backbone.token_embed.weight': 'token_embedding.weight',
    'text_backbone.norm.weight': 'ln_final.weight',
    'text_backbone.norm.bias': 'ln_final.bias',
}
BLOCK_NAMES = {
    'norm1.': 'ln_1.', 'norm2.': 'ln_2.', 'attn.qkv.weight':
    'attn.in_proj_weight', 'attn.qkv.bias': 'attn.in_proj_bias',
    'attn.proj.': 'attn.out_proj.', 'mlp.0.': 'mlp.c_fc.',
    'mlp.2.': 'mlp.c_proj.',
}
BLOCK_PREFIXES = {'backbone.blocks.': 'visual.transformer.resblocks.',
                  'text_backbone.blocks.': 'transformer.resblocks.'}
# Stored as (out, in) Linear weights by pixpretrain, as (in, out) matrices
# applied by ``x @ proj`` in OpenCLIP.
TRANSPOSED = ('head.image_proj.weight', 'head.text_proj.weight')
# pixpretrain's patch embedding has a bias (zeros at init), OpenCLIP's none.
PATCH_BIAS = 'backbone.patch_embed.bias'


def openclip_name(pix_name: str) -> str:
    """The OpenCLIP parameter matching a pixpretrain one."""
    if pix_name in NAMES:
        return NAMES[pix_name]
    for prefix, target in BLOCK_PREFIXES.items():
        if pix_name.startswith(prefix):
            index, rest = pix_name[len(prefix):].split('.', 1)
            for old, new in BLOCK_NAMES.items():
                if rest.startswith(old):
                    return f'{target}{index}.{new}{rest[len(old):]}'
    raise KeyError(f'no OpenCLIP counterpart for {pix_name}')


def pix_to_openclip(state: dict, shapes: Dict[str, tuple]) -> dict:
    """pixpretrain CLIP weights -> OpenCLIP CLIP weights of ``shapes``.

    Raises:
        ValueError: The patch embedding's bias is not zero (OpenCLIP has
            none to take it).
    """
    out = {}
    for name, value in state.items():
        if name == PATCH_BIAS:
            if value.abs().max() > 0:
                raise ValueError('OpenCLIP has no patch-embedding bias')
            continue
        target = openclip_name(name)
        value = value.t() if name in TRANSPOSED else value
        out[target] = value.reshape(shapes[target]).clone()
    return out


def openclip_to_pix(state: dict, shapes: Dict[str, tuple]) -> dict:
    """OpenCLIP CLIP weights -> pixpretrain CLIP weights of ``shapes``
    (the patch-embedding bias zero)."""
    import torch
    out = {}
    for name, shape in shapes.items():
        if name == PATCH_BIAS:
            out[name] = torch.zeros(shape)
            continue
        value = state[openclip_name(name)]
        value = value.t() if name in TRANSPOSED else value
        out[name] = value.reshape(shape).clone()
    return out


def _shapes(model) -> Dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def same_weights_max_diff(seed: int = 0) -> Dict[str, float]:
    """Largest differences between the two models' unit embeddings when
    OpenCLIP's holds pixpretrain's initial weights: 0 up to float32
    rounding if the architectures are the same. Needs ``open_clip``."""
    import torch
    from mmengine.registry import init_default_scope

    from pixpretrain.datasets.tokenizers import build_tokenizer
    from pixpretrain.registry import MODELS
    init_default_scope('pixpretrain')
    torch.manual_seed(seed)
    cfg, evaluation = load_cfg(100, seed, 8, '', '')
    pix = MODELS.build(cfg.model).eval()
    peer = build_openclip(cfg).eval()
    peer.load_state_dict(pix_to_openclip(pix.state_dict(), _shapes(peer)),
                         strict=True)
    images = torch.randn(4, 3, 32, 32)
    tokens = build_tokenizer(evaluation['tokenizer'])(
        ['a photo of a cat.', 'a dog.', 'x', 'a much longer caption, '
         'with more words than the others.'])
    with torch.no_grad():
        image = pix.embed_image(images) - peer.encode_image(images, True)
        text = pix.embed_text(tokens) - peer.encode_text(tokens, True)
    return dict(image=image.abs().max().item(), text=text.abs().max().item())


def train_pix(args: argparse.Namespace) -> dict:
    """Train the config with mmengine's Runner; evaluate; the record."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from pixpretrain.apis import prepare_train_config
    cfg, evaluation = load_cfg(args.steps, args.seed, args.batch_size,
                               args.data_root, args.work_dir)
    cfg = prepare_train_config(cfg, CONFIG, args.work_dir)
    record: dict = dict(losses=[], lrs=[], checksum=None)

    class Recorder(Hook):
        """Each step's loss and lr, and the first batch's checksum."""
        priority = 'LOW'

        def before_train(self, runner):
            # After the Runner's own initialisation, before the first step.
            model = runner.model
            if args.init_from:
                state = torch.load(args.init_from, map_location='cpu')
                model.load_state_dict(
                    openclip_to_pix(state, _shapes(model)), strict=True)
            if args.save_init:
                torch.save(model.state_dict(), args.save_init)

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            record.setdefault('loop_start', time.perf_counter())
            record['lrs'].append(runner.optim_wrapper.get_lr()['lr'][0])
            if record['checksum'] is None:
                record['checksum'] = _checksum(
                    runner.model.data_preprocessor(data_batch, True))

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            record['losses'].append(float(outputs['loss'].detach()))
            record['loop_end'] = time.perf_counter()

    runner = Runner.from_cfg(cfg)
    if args.init_only:
        # The weights train() starts from (its init_weights() changes
        # none of them for this model).
        torch.save(runner.model.state_dict(), args.save_init)
        return {}
    runner.register_hook(Recorder())
    start = time.perf_counter()
    runner.train()
    wall = time.perf_counter() - start
    model = runner.model
    model.eval()
    head = model.head
    counts = dict(
        image=sum(p.numel() for p in model.backbone.parameters()) +
        head.image_proj.weight.numel(),
        text=sum(p.numel() for p in model.text_backbone.parameters()) +
        head.text_proj.weight.numel())
    start = time.perf_counter()
    scores = evaluate_zero_shot(model.embed_image, model.embed_text,
                                model.data_preprocessor, evaluation,
                                args.test_samples)
    return dict(
        record, wall_s=wall, eval_s=time.perf_counter() - start,
        scores=scores, params=counts,
        decay_split=_decay_split(runner.optim_wrapper.optimizer.param_groups),
        logit_scale=head.scale().item(), torch_threads=torch.get_num_threads())


def build_openclip(cfg):
    """OpenCLIP's CLIP sized like the pixpretrain config (random init)."""
    import open_clip

    from pixpretrain.datasets.tokenizers import EOT_ID, PAD_ID
    model_cfg = cfg.model
    vit, text = model_cfg.backbone.arch, model_cfg.text_backbone.arch
    patch, width = model_cfg.backbone.patch_size, vit.embed_dims
    norm = dict(eps=1e-6)  # pixpretrain's LayerNorms
    return open_clip.model.CLIP(
        embed_dim=model_cfg.head.embed_dims,
        vision_cfg=dict(
            layers=vit.num_layers, width=width,
            head_width=width // vit.num_heads, mlp_ratio=vit.mlp_ratio,
            patch_size=patch, image_size=model_cfg.backbone.img_size,
            pool_type='tok', no_ln_pre=True, norm_kwargs=norm),
        text_cfg=dict(
            context_length=model_cfg.text_backbone.context_length,
            vocab_size=model_cfg.text_backbone.vocab_size,
            width=text.embed_dims, heads=text.num_heads,
            layers=text.num_layers, mlp_ratio=text.mlp_ratio,
            # The first end-of-text token, as pixpretrain's TextTransformer;
            # 'argmax' would read the largest byte id instead.
            pool_type='eos', eos_id=EOT_ID, pad_id=PAD_ID,
            norm_kwargs=norm),
        init_logit_scale=math.log(1 / model_cfg.head.init_temperature),
        output_dict=True)


def train_openclip(args: argparse.Namespace) -> dict:
    """Train OpenCLIP's CLIP in a plain loop on the config's batches;
    evaluate; the record."""
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, set_random_seed
    from open_clip.loss import ClipLoss

    from pixpretrain.registry import MODELS
    cfg, evaluation = load_cfg(args.steps, args.seed, args.batch_size,
                               args.data_root, args.work_dir)
    init_default_scope('pixpretrain')
    set_random_seed(args.seed)  # as the Runner does, before the model
    model = build_openclip(cfg)
    if args.init_from:
        state = torch.load(args.init_from, map_location='cpu')
        model.load_state_dict(pix_to_openclip(state, _shapes(model)),
                              strict=True)
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    if args.init_only:
        return {}
    preprocess = MODELS.build(cfg.model.data_preprocessor)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=args.seed,
                                     diff_rank_seed=True)
    # pixpretrain's adamw_clip exclusions: every 1-d parameter (gains,
    # biases, logit_scale, the class embedding) and both towers' position
    # embeddings.
    spared = {'positional_embedding', 'visual.positional_embedding'}
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or name in spared else decay).append(
            param)
    opt = cfg.optim_wrapper.optimizer
    optimizer = torch.optim.AdamW(
        [dict(params=decay, weight_decay=opt.weight_decay),
         dict(params=no_decay, weight_decay=0.0)],
        lr=opt.lr, betas=tuple(opt.betas), eps=opt.eps)
    loss_fn = ClipLoss()
    warmup = warmup_steps(args.steps)
    record: dict = dict(losses=[], lrs=[], checksum=None)
    model.train()
    start = time.perf_counter()
    # mmengine's infinite iterator: a new pass, with set_epoch, when the
    # loader runs out (400 steps of 128 are a little over one epoch).
    epoch = 0
    loader.sampler.set_epoch(epoch)
    batches = iter(loader)
    record['loop_start'] = time.perf_counter()
    for step in range(args.steps):
        try:
            batch = next(batches)
        except StopIteration:
            epoch += 1
            loader.sampler.set_epoch(epoch)
            batches = iter(loader)
            batch = next(batches)
        lr = warmup_cosine_lr(step, opt.lr, warmup, args.steps)
        for group in optimizer.param_groups:
            group['lr'] = lr
        data = preprocess(batch, training=True)
        tokens = torch.stack([s.text_tokens for s in data['data_samples']])
        if record['checksum'] is None:
            record['checksum'] = _checksum(data)
        out = model(data['inputs'], tokens)
        loss = loss_fn(out['image_features'], out['text_features'],
                       out['logit_scale'])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # open_clip_train's clamp after each step
            model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))
        record['lrs'].append(lr)
        record['losses'].append(loss.item())
    record['loop_end'] = wall = time.perf_counter()
    wall -= start
    model.eval()
    visual = sum(p.numel() for p in model.visual.parameters())
    counts = dict(image=visual, text=sum(
        p.numel() for n, p in model.named_parameters()
        if not n.startswith('visual.') and n != 'logit_scale'))
    start = time.perf_counter()
    scores = evaluate_zero_shot(
        lambda x: model.encode_image(x, normalize=True),
        lambda t: model.encode_text(t, normalize=True), preprocess,
        evaluation, args.test_samples)
    return dict(
        record, wall_s=wall, eval_s=time.perf_counter() - start,
        scores=scores, params=counts,
        decay_split=_decay_split(optimizer.param_groups),
        logit_scale=model.logit_scale.exp().item(),
        torch_threads=torch.get_num_threads())


def run_worker(args: argparse.Namespace) -> dict:
    """Train and evaluate one toolbox; write and return the result."""
    import torch
    torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    trained = (train_pix if args.worker == 'pix' else train_openclip)(args)
    if args.init_only:
        return {}
    losses = trained.pop('losses')
    lrs = trained.pop('lrs')
    scores = trained.pop('scores')
    # From the first step's start to the last step's end: without the
    # Runner's set-up and final checkpoint (in wall_s).
    trained['loop_s'] = trained.pop('loop_end') - trained.pop('loop_start')
    result = dict(
        toolbox=args.worker, init='peer' if args.init_from else 'own',
        seed=args.seed, steps=len(losses),
        batch_size=args.batch_size, images_seen=len(losses) * args.batch_size,
        top1=scores['top1'], top5=scores['top5'],
        test_images=scores['test_images'], final_loss=final_loss(losses),
        loss_curve=loss_curve(losses),
        lr_at={str(s): lrs[s] for s in sorted({0, 1, len(lrs) // 2,
                                              len(lrs) - 1})},
        **trained)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return result


ROW = ('| {seed} | {label} | {steps} | {wall_s:.0f} | {top1:.2f} | '
       '{top5:.2f} | {final_loss:.3f} | {logit_scale:.2f} |')
NAMES_SHOWN = dict(pix='pixpretrain', openclip='OpenCLIP')


def label(run: dict) -> str:
    """'pixpretrain', or 'pixpretrain from OpenCLIP's init' for a
    ``--cross-init`` run."""
    name = NAMES_SHOWN[run['toolbox']]
    if run.get('init', 'own') == 'own':
        return name
    peer = [t for t in TOOLBOXES if t != run['toolbox']][0]
    return f"{name} from {NAMES_SHOWN[peer]}'s init"


def row(run: dict) -> str:
    """One run's table row."""
    return ROW.format(label=label(run), **run)


def table(runs: Sequence[dict]) -> str:
    """Markdown table, one row per run, and a mean row per toolbox with
    the seed spread (max - min) of top-1 once every seed has both."""
    lines = ['| seed | toolbox | steps | train wall (s) | zero-shot top-1 (%)'
             ' | top-5 (%) | final loss | logit scale |',
             '|---|---|---|---|---|---|---|---|']
    lines += [row(run) for run in runs]
    groups: Dict[str, List[dict]] = {}
    for run in runs:
        groups.setdefault(label(run), []).append(run)
    for name, mine in groups.items():
        if len(mine) < 2:
            continue
        top1 = [r['top1'] for r in mine]
        lines.append(
            f'| mean of {len(mine)} | {name} | | | '
            f'{sum(top1) / len(top1):.2f} (spread {max(top1) - min(top1):.2f})'
            f' | {sum(r["top5"] for r in mine) / len(mine):.2f} | '
            f'{sum(r["final_loss"] for r in mine) / len(mine):.3f} | |')
    return '\n'.join(lines)


def write_json(path: str, settings: dict, runs: Sequence[dict]) -> None:
    """Write the runs so far (atomically: a killed driver leaves the last
    complete file)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile('w', dir=folder, delete=False,
                                     suffix='.tmp') as f:
        json.dump(dict(settings=settings, runs=list(runs)), f, indent=1)
    os.chmod(f.name, 0o644)  # a temporary file is private; results are not
    os.replace(f.name, path)


def order(seeds: Sequence[int], cross_init: bool = False) -> List[tuple]:
    """(seed, toolbox, init) in run order: both toolboxes per seed, which
    goes first alternating from seed to seed; init 'own', or with
    ``cross_init`` 'peer': each from the other's initial weights."""
    init = 'peer' if cross_init else 'own'
    runs = []
    for i, seed in enumerate(seeds):
        pair = TOOLBOXES if i % 2 == 0 else TOOLBOXES[::-1]
        runs += [(seed, toolbox, init) for toolbox in pair]
    return runs


def plot(runs: Sequence[dict], path: str) -> None:
    """Both toolboxes' loss curves on the same axes."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    colours = {('pix', 'own'): 'tab:blue', ('openclip', 'own'): 'tab:orange',
               ('pix', 'peer'): 'tab:cyan', ('openclip', 'peer'): 'tab:red'}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = ['-', '--', ':', '-.']
    seeds = sorted({r['seed'] for r in runs})
    for run in runs:
        steps, losses = zip(*run['loss_curve'])
        style = styles[seeds.index(run['seed']) % len(styles)]
        colour = colours[run['toolbox'], run.get('init', 'own')]
        ax.plot(steps, losses, style, color=colour,
                label=f'{label(run)}, seed {run["seed"]} '
                f'(top-1 {run["top1"]:.1f} %)')
    ax.set_xlabel('step')
    ax.set_ylabel(f'training loss (mean of {WINDOW} steps)')
    run = runs[0]
    ax.set_title(f'CLIP ViT 6x128 on CIFAR-10 captions, batch '
                 f'{run["batch_size"]}')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def drive(args: argparse.Namespace) -> List[dict]:
    """Run every (seed, toolbox) in a fresh process, alternating."""
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from peer_envs import ensure_peer, peer_folder, toolbox_env
    ensure_peer('open_clip')
    openclip_env = toolbox_env(peer_folder('open_clip'))
    settings = dict(config=osp.relpath(CONFIG, REPO), steps=args.steps,
                    batch_size=args.batch_size, seeds=args.seeds,
                    threads=args.threads, test_samples=args.test_samples,
                    cross_init=args.cross_init,
                    warmup_steps=warmup_steps(args.steps),
                    command=' '.join(['python'] + sys.argv))
    runs: List[dict] = []
    work_root = args.work_dir or tempfile.mkdtemp(prefix='quality_clip_')
    for seed, toolbox, init in order(args.seeds, args.cross_init):
        name = f'{toolbox}_seed{seed}' + ('_peer_init' if init == 'peer'
                                          else '')
        out = osp.join(work_root, f'{name}.json')

        def worker(toolbox: str, *extra: str) -> List[str]:
            return [sys.executable, osp.abspath(__file__), '--worker',
                    toolbox, '--seed', str(seed), '--steps', str(args.steps),
                    '--batch-size', str(args.batch_size), '--data-root',
                    args.data_root, '--threads', str(args.threads),
                    '--work-dir', osp.join(work_root, name), *extra]

        def env_of(toolbox: str) -> Dict[str, str]:
            return dict(openclip_env if toolbox == 'openclip'
                        else toolbox_env(),
                        OMP_NUM_THREADS=str(args.threads))

        env = env_of(toolbox)
        cmd = worker(toolbox, '--out', out)
        if init == 'peer':
            # The other toolbox's initial weights for this seed, as its own
            # run would start from them.
            peer = [t for t in TOOLBOXES if t != toolbox][0]
            weights = osp.join(work_root, f'{peer}_seed{seed}_init.pth')
            if not osp.isfile(weights):
                subprocess.run(worker(peer, '--init-only', '--save-init',
                                      weights), env=env_of(peer),
                               check=True, stdout=subprocess.DEVNULL)
            cmd += ['--init-from', weights]
        if args.test_samples:
            cmd += ['--test-samples', str(args.test_samples)]
        load = os.getloadavg()[0]
        print(f'seed {seed}, {toolbox}: running (load {load:.2f})',
              flush=True)
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL
                       if not args.verbose else None)
        with open(out) as f:
            run = json.load(f)
        run['load_before'] = load
        runs.append(run)
        print(row(run), flush=True)
        if args.json:
            write_json(args.json, settings, runs)
        if args.plot:
            plot(runs, args.plot)
    print(table(runs))
    return runs


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='pixpretrain CLIP vs OpenCLIP, same budget')
    parser.add_argument('--worker', choices=TOOLBOXES,
                        help='train one toolbox in this process')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--steps', type=int, default=150)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of each worker')
    parser.add_argument('--test-samples', type=int, default=None,
                        help='class-balanced test subset (default: all)')
    parser.add_argument('--data-root', default=DEFAULT_DATA)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--out', help="worker: its result's JSON file")
    parser.add_argument('--save-init', help='worker: save the initial '
                        'weights (own format) here')
    parser.add_argument('--init-from', help="worker: start from the other "
                        "toolbox's initial weights saved by --save-init")
    parser.add_argument('--init-only', action='store_true',
                        help='worker: only save the initial weights '
                        '(--save-init)')
    parser.add_argument('--cross-init', action='store_true',
                        help="driver: train each toolbox from the other's "
                        'initial weights for the seed (same-init '
                        'diagnostic)')
    parser.add_argument('--json', help='driver: results, after every run')
    parser.add_argument('--plot', help='driver: loss curves (PNG)')
    parser.add_argument('--verbose', action='store_true',
                        help="driver: show the workers' logs")
    args = parser.parse_args(argv)
    if args.steps < 8:
        parser.error('--steps must be at least 8 (warm-up, then cosine)')
    if args.init_only and not args.save_init:
        parser.error('--init-only needs --save-init')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.worker:
        if args.work_dir is None:
            args.work_dir = tempfile.mkdtemp(prefix=f'quality_{args.worker}_')
        result = run_worker(args)
        if result:
            print(row(result))
    else:
        drive(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
