"""FSDP2Strategy on two gloo CPU processes (tools/train.py --strategy fsdp):
every pretext trains as DDP does, its checkpoint loads into one process, and
a killed sharded run resumes to the weights of an uninterrupted one."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
sys.path.insert(0, str(REPO / 'tests' / 'tools'))
sys.path.insert(0, str(FIXTURES))
from fsdp_hooks import fixed_inputs  # noqa: E402
from test_train import run_tool  # noqa: E402

from pixpretrain.apis import init_model, load_config  # noqa: E402
from pixpretrain.utils.fileio import torch_save_atomic  # noqa: E402

pytestmark = pytest.mark.distributed  # see tests/conftest.py
STEPS = 5
# FSDP2 reduce-scatters what DDP all-reduces: with two ranks both add the
# same two float32 gradients and halve the sum, so the runs agree bit for
# bit; the tolerance admits a differently ordered reduction elsewhere.
RTOL, ATOL = 1e-6, 1e-7

# fixture config, extra config text, what DumpOutputsHook feeds the model
PRETEXTS = dict(
    mae=('tiny_mae.py', '', 'images'),
    # the momentum encoder's EMA, the key queue, split BN, a kNN val pass
    moco=('tiny_moco.py', '', 'images'),
    # image and text towers, features gathered across ranks with gradients,
    # a zero-shot validation (ZeroShotHook embeds prompts on every rank)
    clip=('tiny_clip.py', "custom_hooks.append(dict(type='ZeroShotHook'))\n",
          'images'),
    # iGPT with an AR and a BERT head on one backbone
    igpt=('tiny_igpt.py', '', 'tokens'),
    # CoCa: CLIP's towers plus the pooler and a cross-attending caption
    # decoder; validated zero-shot and by the caption NLL
    coca=('tiny_coca.py', "custom_hooks.append(dict(type='ZeroShotHook'))\n",
          'images'),
    # CapPa: parallel and autoregressive steps of one decoder (its mask
    # embedding idle on the latter), a step-count buffer
    cappa=('tiny_cappa.py', '', 'images'),
    # fine-tuning: drop path, mixup / cutmix, layer-wise lr decay, label
    # smoothing, and a sharded validation with the Accuracy metric
    classifier=('tiny_classifier.py',
                f'train_cfg.update(val_interval={STEPS})\n', 'images'),
    # a linear probe: the frozen backbone's shards must not move
    linear=('tiny_linear.py', "custom_hooks.append(dict("
            "type='FrozenBackboneCheckHook'))\n", 'images'),
    # a timm backbone, its blocks sharded one by one: a ResNet in MoCo
    # (batch norm, the key encoder's copy); a timm ViT's blocks are found
    # the same way (tests/models/test_timm_backbone_checkpointing.py)
    moco_timm=('tiny_moco_timm.py', '', 'images'),
)
# The timm blocks of the fixture, by hand: resnet10t's one block per stage.
TIMM_BLOCKS = dict(moco_timm=('layer1.0', 'layer2.0', 'layer3.0',
                              'layer4.0'))


def write_config(tmp_path: Path, name: str, body: str = '') -> str:
    fixture, extra, kind = PRETEXTS[name]
    config = tmp_path / f'{name}.py'
    config.write_text(
        f"_base_ = ['{FIXTURES / fixture}']\n"
        "custom_imports = dict(imports=['fsdp_hooks', 'crash_hooks'], "
        'allow_failed_imports=False)\n'
        f"custom_hooks = [dict(type='DumpOutputsHook', kind='{kind}')]\n"
        f'train_cfg = dict(max_iters={STEPS})\n'
        'default_hooks = dict(checkpoint=dict(by_epoch=False, '
        f'interval={STEPS}))\n' + extra + body)
    return str(config)


def options(tmp_path: Path, name: str) -> dict:
    """--cfg-options the pretext needs: iGPT's palette."""
    if name != 'igpt':
        return {}
    palette = tmp_path / 'palette.npy'
    np.save(palette, np.random.default_rng(0).uniform(0, 255, (16, 3)))
    return {'train_dataloader.dataset.pipeline.0.palette': str(palette)}


def torchrun(config: str, work_dir: Path, strategy: str, *cfg_options,
             flags: tuple = ()):
    return run_tool(
        '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--standalone', str(REPO / 'tools' / 'train.py'),
        config, '--work-dir', str(work_dir), '--launcher', 'pytorch',
        '--strategy', strategy, *flags,
        *(['--cfg-options', *cfg_options] if cfg_options else []),
        env_extra=dict(OMP_NUM_THREADS='1'))


def state(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)


@pytest.fixture(scope='module', params=sorted(PRETEXTS))
def ddp_and_fsdp(request, tmp_path_factory):
    """One pretext trained STEPS steps under DDP and under FSDP2 from the
    same initial weights, on the same global batches."""
    name = request.param
    tmp_path = tmp_path_factory.mktemp(name)
    config = write_config(tmp_path, name)
    extra = options(tmp_path, name)
    torch.manual_seed(0)
    cfg = load_config(config, extra)
    initial = init_model(cfg)
    initial.init_weights()  # MoCo: the key encoder starts as the query's
    torch_save_atomic({'state_dict': initial.state_dict()},
                      tmp_path / 'initial.pth')
    runs = {}
    for strategy in ('ddp', 'fsdp'):
        work_dir = tmp_path / strategy
        result = torchrun(config, work_dir, strategy,
                          *[f'{k}={v}' for k, v in extra.items()],
                          f"load_from={tmp_path / 'initial.pth'}")
        assert result.returncode == 0, result.stderr[-3000:]
        runs[strategy] = work_dir
    return name, config, extra, runs


def test_fsdp2_steps_equal_ddp_steps(ddp_and_fsdp):
    name, _, _, runs = ddp_and_fsdp
    ddp = state(runs['ddp'] / f'iter_{STEPS}.pth')['state_dict']
    fsdp = state(runs['fsdp'] / f'iter_{STEPS}.pth')['state_dict']
    initial = state(runs['ddp'].parent / 'initial.pth')['state_dict']
    assert fsdp.keys() == ddp.keys() == initial.keys()
    for key, value in ddp.items():
        torch.testing.assert_close(fsdp[key], value, rtol=RTOL, atol=ATOL,
                                   msg=f'{name}: {key}')
    moved = {key for key, value in fsdp.items()
             if not torch.equal(value, initial[key])}
    if name == 'linear':  # the frozen backbone stays, the head learns
        assert not {key for key in moved if key.startswith('backbone.')}
        assert {key for key in moved if key.startswith('head.')}
    else:
        assert len(moved) > len(ddp) // 2, f'{name}: few tensors changed'


def test_timm_blocks_are_units_of_their_own(ddp_and_fsdp):
    name, _, _, runs = ddp_and_fsdp
    if name not in TIMM_BLOCKS:
        pytest.skip('no timm backbone')
    encoders = ['backbone.model.']
    if name == 'moco_timm':
        encoders.append('momentum_encoder.backbone.model.')
    for rank in (0, 1):
        units = json.loads((runs['fsdp'] / f'units_rank{rank}.json')
                           .read_text())
        for encoder in encoders:
            inside = [u[len(encoder):] for u in units
                      if u.startswith(encoder)]
            assert tuple(inside) == TIMM_BLOCKS[name], (name, rank, units)
    # Under DDP nothing is an FSDP2 unit.
    assert json.loads((runs['ddp'] / 'units_rank0.json').read_text()) == []


def test_checkpointed_timm_blocks_inside_units_equal_ddp(ddp_and_fsdp,
                                                        tmp_path):
    # with_cp recomputes each timm block in backward, inside its FSDP2 unit
    # (gathered again for it): the steps, batch-norm statistics included,
    # stay those of DDP without checkpointing.
    if ddp_and_fsdp[0] != 'moco_timm':
        pytest.skip('one timm backbone with batch norm suffices')
    sharded_variant_equals_ddp(ddp_and_fsdp, tmp_path,
                               'model.backbone.with_cp=True')


def test_moco_without_resharding_after_forward_equals_ddp(ddp_and_fsdp,
                                                        tmp_path):
    # reshard_after_forward=False (ZeRO-2: gathered weights kept from
    # forward to backward) with the one method whose weights change in
    # place in a step: the key encoder's update must still reach the shards.
    if ddp_and_fsdp[0] != 'moco':
        pytest.skip("the in-place update under test is MoCo's")
    sharded_variant_equals_ddp(ddp_and_fsdp, tmp_path,
                               'strategy.reshard_after_forward=False')


def sharded_variant_equals_ddp(ddp_and_fsdp, tmp_path: Path,
                               option: str) -> None:
    """The pretext trained under FSDP2 with ``option`` (a --cfg-options
    entry) from the same initial weights ends with DDP's weights."""
    _, config, _, runs = ddp_and_fsdp
    initial = runs['ddp'].parent / 'initial.pth'
    result = torchrun(config, tmp_path, 'fsdp', f'load_from={initial}',
                      option)
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = state(runs['ddp'] / f'iter_{STEPS}.pth')['state_dict']
    variant = state(tmp_path / f'iter_{STEPS}.pth')['state_dict']
    for key, value in ddp.items():
        torch.testing.assert_close(variant[key], value, rtol=RTOL,
                                   atol=ATOL, msg=f'{option}: {key}')


def test_sharded_fine_tuning_validates_as_ddp(ddp_and_fsdp):
    name, _, _, runs = ddp_and_fsdp
    if name != 'classifier':
        pytest.skip("the Accuracy validation under test is the classifier's")
    accuracy = {}
    for strategy, work_dir in runs.items():
        logs = ''.join(p.read_text() for p in work_dir.glob('*/*.log'))
        accuracy[strategy] = re.findall(r'accuracy/top1: ([\d.]+)', logs)
    assert len(accuracy['ddp']) == 1, accuracy
    assert accuracy['fsdp'] == accuracy['ddp']


def test_sharded_checkpoint_loads_into_one_process(ddp_and_fsdp):
    name, config, extra, runs = ddp_and_fsdp
    sharded = [torch.load(runs['fsdp'] / f'outputs_rank{rank}.pth')
               for rank in (0, 1)]
    model = init_model(load_config(config, extra),
                       str(runs['fsdp'] / f'iter_{STEPS}.pth'))
    kind = PRETEXTS[name][2]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ranks ran: convolutions then sum in
    try:                      # the same order (2 threads differ by ~4e-7)
        with torch.no_grad():
            outputs = model(fixed_inputs(kind), mode='tensor')
    finally:
        torch.set_num_threads(threads)
    # Batch-norm statistics are each rank's own (as under DDP without
    # broadcast_buffers) and the checkpoint holds rank 0's: ResNet's eval
    # outputs match rank 0's only; the transformers' match both ranks.
    ranks = (0, ) if name.startswith('moco') else (0, 1)
    for rank in ranks:
        assert len(outputs) == len(sharded[rank])
        for one, on_rank in zip(outputs, sharded[rank]):
            torch.testing.assert_close(one, on_rank, rtol=RTOL, atol=ATOL,
                                       msg=f'{name}, rank {rank}')


def test_killed_sharded_run_resumes_bitwise(tmp_path):
    # MoCo: the most state to carry (key encoder, queue and its pointer,
    # batch-norm statistics, SGD momentum, the kNN bank's loop).
    body = 'default_hooks = dict(checkpoint=dict(interval=2))\n'
    config = write_config(tmp_path, 'moco', body)
    killed_config = write_config(
        tmp_path, 'moco', body + "custom_hooks = [dict(type='KillAtIterHook',"
        ' at_iter=3)]\n')
    killed_config = str(Path(killed_config).rename(tmp_path / 'killed.py'))
    config = write_config(tmp_path, 'moco', body)
    whole, broken = tmp_path / 'whole', tmp_path / 'broken'
    result = torchrun(config, whole, 'fsdp')
    assert result.returncode == 0, result.stderr[-3000:]
    crashed = torchrun(killed_config, broken, 'fsdp')
    assert crashed.returncode != 0
    assert not (broken / f'iter_{STEPS}.pth').exists()
    assert (broken / 'iter_2.pth').exists()
    resumed = torchrun(config, broken, 'fsdp', flags=('--resume', ))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ends = [state(d / f'iter_{STEPS}.pth') for d in (whole, broken)]
    assert ends[0]['state_dict'].keys() == ends[1]['state_dict'].keys()
    for key, value in ends[0]['state_dict'].items():
        assert torch.equal(ends[1]['state_dict'][key], value), key
    first, second = (e['optimizer']['state'] for e in ends)
    assert first.keys() == second.keys() and first
    for key in first:
        for slot, value in first[key].items():
            assert torch.equal(second[key][slot], value), (key, slot)


def test_pictures_are_skipped_in_a_sharded_run_not_waited_for(tmp_path):
    # Drawing on rank 0 alone would wait forever for rank 1's shards.
    config = write_config(tmp_path, 'mae', "custom_hooks = [dict(type="
                          "'ReconstructionHook', interval=2)]\n")
    result = torchrun(config, tmp_path / 'w', 'fsdp',
                      'train_cfg.max_iters=2')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'ReconstructionHook draws nothing in a sharded' in result.stdout
    assert not (tmp_path / 'w' / 'reconstructions').exists()
