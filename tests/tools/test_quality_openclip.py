"""The pieces of benchmarks/quality_openclip.py that need no OpenCLIP: the
per-step lr the OpenCLIP side uses equals what mmengine's schedulers give
the pixpretrain side, and the bookkeeping (loss curve, table, JSON, order)."""
import json
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'benchmarks'))
import quality_openclip as qo  # noqa: E402


def _mmengine_lrs(scheduler_cfgs, base_lr, steps):
    """The lr of every step as the Runner's ParamSchedulerHook leaves it:
    each scheduler stepped after every iteration."""
    from pixpretrain.registry import PARAM_SCHEDULERS
    init_default_scope('pixpretrain')
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=base_lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(cfg, optimizer=optimizer))
                  for cfg in scheduler_cfgs]
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return lrs


@pytest.mark.parametrize('steps', [8, 12, 150, 300, 400])
def test_lr_per_step_equals_the_configs_mmengine_schedule(steps, tmp_path):
    cfg, _ = qo.load_cfg(steps, seed=0, batch_size=128,
                         data_root=str(tmp_path), work_dir=str(tmp_path))
    base_lr = cfg.optim_wrapper.optimizer.lr
    expected = _mmengine_lrs(cfg.param_scheduler, base_lr, steps)
    warmup = qo.warmup_steps(steps)
    ours = [qo.warmup_cosine_lr(s, base_lr, warmup, steps)
            for s in range(steps)]
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # Warm-up from 1e-2 of the lr, the full lr once it ends, decayed by
    # the last step.
    assert ours[0] == pytest.approx(base_lr * 1e-2)
    assert ours[warmup] == pytest.approx(base_lr)
    assert ours[-1] < 0.1 * base_lr


def test_the_400_step_schedule_is_the_configs_own():
    # At the config's own length the benchmark changes nothing.
    from pixpretrain.apis import load_config
    original = load_config(qo.CONFIG)
    cfg, _ = qo.load_cfg(400, seed=0, batch_size=128, data_root='d',
                         work_dir='w')
    assert qo.warmup_steps(400) == 50
    assert [dict(s) for s in cfg.param_scheduler] == \
        [dict(s) for s in original.param_scheduler]


def test_config_for_a_run(tmp_path):
    cfg, evaluation = qo.load_cfg(150, seed=3, batch_size=64,
                                  data_root='/data', work_dir='/w')
    assert cfg.train_cfg.max_iters == 150
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.train_dataloader.num_workers == 1
    assert cfg.train_dataloader.dataset.dataset.data_root == '/data'
    assert cfg.randomness.seed == 3
    assert cfg.val_dataloader is None and cfg.custom_hooks == []
    assert evaluation['dataset']['split'] == 'test'
    assert evaluation['dataset']['data_root'] == '/data'
    assert len(evaluation['templates']) == 18


def test_loss_curve_windows_and_tail():
    losses = [float(i) for i in range(1, 26)]  # steps 1..25
    assert qo.loss_curve(losses, window=10) == [
        [10, 5.5], [20, 15.5], [25, 23.0]]
    assert qo.loss_curve(losses[:20], window=10) == [[10, 5.5], [20, 15.5]]
    assert qo.final_loss(losses, window=10) == pytest.approx(20.5)


def _run(seed, toolbox, top1, loss=3.0):
    return dict(seed=seed, toolbox=toolbox, init='own', steps=10, wall_s=12.3,
                top1=top1, top5=80.0, final_loss=loss, logit_scale=14.2,
                batch_size=8, loss_curve=[[10, loss]])


def test_table_rows_and_seed_spread():
    runs = [_run(0, 'pix', 30.0), _run(0, 'openclip', 31.0),
            _run(1, 'openclip', 35.0), _run(1, 'pix', 33.5, 2.5)]
    lines = qo.table(runs).splitlines()
    assert lines[2] == \
        '| 0 | pixpretrain | 10 | 12 | 30.00 | 80.00 | 3.000 | 14.20 |'
    assert lines[-2] == ('| mean of 2 | pixpretrain | | | 31.75 (spread '
                         '3.50) | 80.00 | 2.750 | |')
    assert lines[-1].startswith('| mean of 2 | OpenCLIP | | | 33.00 '
                                '(spread 4.00)')
    # One seed: no mean rows yet.
    assert 'mean' not in qo.table(runs[:2])
    # Runs from the other's initial weights are grouped apart.
    crossed = runs + [dict(_run(0, 'pix', 20.0), init='peer')]
    lines = qo.table(crossed).splitlines()
    assert lines[6].startswith("| 0 | pixpretrain from OpenCLIP's init |")
    assert lines[-2].startswith('| mean of 2 | pixpretrain | | | 31.75')


def test_order_alternates_which_toolbox_goes_first():
    assert qo.order([0, 1, 2]) == [
        (0, 'pix', 'own'), (0, 'openclip', 'own'), (1, 'openclip', 'own'),
        (1, 'pix', 'own'), (2, 'pix', 'own'), (2, 'openclip', 'own')]
    # Each from the other's initial weights: the same order.
    assert qo.order([0, 1], cross_init=True) == [
        (0, 'pix', 'peer'), (0, 'openclip', 'peer'), (1, 'openclip', 'peer'),
        (1, 'pix', 'peer')]


def test_weight_names_map_both_ways():
    from mmengine.registry import init_default_scope

    from pixpretrain.registry import MODELS
    init_default_scope('pixpretrain')
    cfg, _ = qo.load_cfg(100, seed=0, batch_size=8, data_root='d',
                         work_dir='w')
    model = MODELS.build(cfg.model)
    state = model.state_dict()
    names = {qo.openclip_name(n) for n in state if n != qo.PATCH_BIAS}
    assert len(names) == len(state) - 1  # one-to-one
    assert qo.openclip_name('backbone.blocks.5.attn.qkv.weight') == \
        'visual.transformer.resblocks.5.attn.in_proj_weight'
    assert qo.openclip_name('text_backbone.blocks.1.mlp.2.bias') == \
        'transformer.resblocks.1.mlp.c_proj.bias'
    # OpenCLIP's shapes, made up from pixpretrain's (no OpenCLIP here).
    shapes = {}
    for name, value in state.items():
        if name == qo.PATCH_BIAS:
            continue
        shape = tuple(value.shape)
        if name in qo.TRANSPOSED:
            shape = shape[::-1]
        elif name.endswith(('pos_embed', 'cls_token')):
            shape = shape[1:] if name.endswith('pos_embed') else shape[2:]
        shapes[qo.openclip_name(name)] = shape
    back = qo.openclip_to_pix(qo.pix_to_openclip(state, shapes),
                              qo._shapes(model))
    for name, value in state.items():
        assert torch.equal(back[name], value), name
    assert torch.equal(qo.pix_to_openclip(state, shapes)['visual.proj'],
                       state['head.image_proj.weight'].t())
    state[qo.PATCH_BIAS] += 1  # OpenCLIP has nowhere to put it
    with pytest.raises(ValueError, match='bias'):
        qo.pix_to_openclip(state, shapes)


def test_json_keeps_the_runs_so_far(tmp_path):
    path = tmp_path / 'sub' / 'quality.json'
    qo.write_json(str(path), dict(steps=10), [_run(0, 'pix', 30.0)])
    qo.write_json(str(path), dict(steps=10),
                  [_run(0, 'pix', 30.0), _run(0, 'openclip', 31.0)])
    saved = json.loads(path.read_text())
    assert saved['settings'] == dict(steps=10)
    assert [r['toolbox'] for r in saved['runs']] == ['pix', 'openclip']
    assert list(path.parent.iterdir()) == [path]  # no temporary left
    assert path.stat().st_mode & 0o777 == 0o644


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / 'loss.png'
    qo.plot([_run(0, 'pix', 30.0), _run(0, 'openclip', 31.0)], str(path))
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_same_weights_give_the_same_embeddings_in_openclip():
    """Needs OpenCLIP installed by benchmarks/peer_envs.py (not installed
    here: skipped without it)."""
    import subprocess
    from peer_envs import peer_env
    env = peer_env('open_clip')
    env['PYTHONPATH'] = str(REPO) + ':' + env['PYTHONPATH']
    env['OMP_NUM_THREADS'] = '1'
    if subprocess.run([sys.executable, '-c', 'import open_clip'], env=env,
                      capture_output=True).returncode:
        pytest.skip('OpenCLIP is not installed')
    out = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c',
         'import quality_openclip as qo; import json; '
         'print(json.dumps(qo.same_weights_max_diff()))'],
        env=env, cwd=str(REPO / 'benchmarks'), capture_output=True,
        text=True, check=True)
    diffs = json.loads(out.stdout.strip().splitlines()[-1])
    assert diffs['image'] < 1e-5 and diffs['text'] < 1e-5
