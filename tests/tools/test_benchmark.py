from pathlib import Path

import pytest
import torch

from pixpretrain.apis.analysis import benchmark

REPO = Path(__file__).resolve().parents[2]


def run_benchmark(argv):
    """The result of ``tools/analysis/benchmark.py ARGV``."""
    return benchmark.run_benchmark(benchmark.parse_args(argv))


def test_benchmark_reports_throughput_from_timed_iterations(tmp_path):
    result = run_benchmark([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '4',
        '--warmup', '2', '--batch-size', '4', '--num-workers', '0',
        '--cfg-options', 'experiment_name=bench'
    ])
    assert result['timed_iters'] == 4
    assert result['images_per_s'] == pytest.approx(
        4 / result['step_time_s'])
    assert 0 <= result['data_wait_share'] < 1


def test_fake_jpegs_have_imagenet_like_size(tmp_path):
    from PIL import Image
    benchmark.make_fake_jpegs(str(tmp_path), 3)
    files = sorted((tmp_path / 'fake').glob('*.jpg'))
    assert len(files) == 3
    assert Image.open(files[0]).size == (500, 375)


class _Toy(__import__('mmengine').model.BaseModel):
    """Linear layer, optionally followed by self-attention of its output."""

    def __init__(self, dims, tokens, attention):
        super().__init__()
        self.linear = torch.nn.Linear(dims, dims, bias=False)
        self.attention, self.tokens = attention, tokens

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = self.linear(inputs)  # (B, N, C)
        if self.attention:
            x = torch.nn.functional.scaled_dot_product_attention(x, x, x)
        return dict(loss=x.square().mean())


def _flops(attention, dims=8, tokens=5):
    model = _Toy(dims, tokens, attention)
    batch = dict(inputs=torch.randn(3, tokens, dims))
    return benchmark.count_train_flops(model, batch, images=2)


def test_flops_of_a_linear_layer_forward_and_backward():
    # forward 2*N*C*C; backward the same again for the weight gradient (the
    # input needs none)
    assert _flops(False) == 4 * 5 * 8 * 8


def test_flops_count_cpu_attention():
    # q k^T and attn v: 2 * 2*N*N*C forward, twice that backward
    assert _flops(True) - _flops(False) == 12 * 5 * 5 * 8


def test_step_split_and_cpu_time_are_reported():
    result = run_benchmark([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '3',
        '--warmup', '1', '--batch-size', '4', '--num-workers', '0',
        '--peak-tflops', '2.0', '--cfg-options', 'experiment_name=split'
    ])
    parts = [result[f'{p}_s'] for p in ('forward', 'backward', 'optimizer')]
    assert all(p > 0 for p in parts)
    assert sum(parts) + result['data_wait_s'] <= result['step_time_s']
    assert result['step_cpu_s'] > 0
    assert result['images_per_cpu_s'] == pytest.approx(
        4 / result['step_cpu_s'])
    assert result['train_gflops_per_image'] > 0
    assert result['mfu'] == pytest.approx(result['achieved_tflops'] / 2.0)
    assert result['memory_kind'].startswith('peak RSS')


def test_profile_lists_the_heaviest_operators_of_a_warmup_step():
    result = run_benchmark([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '1',
        '--warmup', '1', '--batch-size', '4', '--num-workers', '0',
        '--profile', '5', '--no-flops', '--cfg-options',
        'experiment_name=profile',
        # wide enough for the matrix products to outweigh the fixed costs
        # (optimizer launch, patch-embedding convolution), which lead the
        # 32-wide fixture's profile and swap places under load
        'model.backbone.arch.embed_dims=192', 'model.neck.encoder_dims=192',
        'model.neck.decoder_dims=128'
    ])
    table = result['profile']
    assert len(table) == 5
    shares = [row['self_cpu_share'] for row in table]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1
    # a transformer's step: its matrix products are among the heaviest
    assert any(row['op'] in ('aten::mm', 'aten::addmm', 'aten::bmm')
               for row in table)


def test_autocast_run_reports_bf16(monkeypatch):
    from pixpretrain.apis import train as train_api
    monkeypatch.setattr(train_api, 'cpu_has_native_bf16', lambda: True)
    result = run_benchmark([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '1',
        '--warmup', '1', '--batch-size', '4', '--num-workers', '0', '--amp',
        '--no-flops', '--cfg-options', 'experiment_name=amp'
    ])
    assert result['precision'] == 'bf16'


def test_preload_replays_pipeline_batches_from_memory():
    result = run_benchmark([
        str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '2',
        '--warmup', '1', '--batch-size', '4', '--num-workers', '0',
        '--preload', '2', '--no-flops', '--no-split', '--cfg-options',
        'experiment_name=preload'
    ])
    assert result['data'].startswith('2 batches from the data pipeline')
    assert result['timed_iters'] == 2 and result['batch_size'] == 4
    assert 'forward_s' not in result  # --no-split: whole steps only


def test_replay_loader_cycles_its_batches_without_end():
    batches = [dict(inputs=torch.full((2, 1), float(i))) for i in range(3)]
    loader = benchmark.ReplayLoader(batches, list(range(6)), batch_size=2)
    seen = [b['inputs'][0, 0].item() for b, _ in zip(loader, range(7))]
    assert seen == [0, 1, 2, 0, 1, 2, 0]
    assert loader.batch_size == 2 and len(loader) == 3


def test_peak_lookup_prefers_the_most_specific_gpu_name():
    assert benchmark.peak_tflops('bf16', 'NVIDIA H200') == 989.0
    assert benchmark.peak_tflops('bf16', 'NVIDIA H200 NVL') == 835.0
    assert benchmark.peak_tflops('bf16', 'NVIDIA H100 80GB HBM3') == 989.0
    assert benchmark.peak_tflops('bf16', 'NVIDIA H100 NVL') == 835.0
    assert benchmark.peak_tflops('bf16', 'Some GPU') is None


class _Block(__import__('mmengine').model.BaseModel):
    """pixpretrain's self-attention (4 heads) on (B, N, C) inputs."""

    def __init__(self, dims):
        super().__init__()
        from pixpretrain.models.utils.transformer import \
            MultiheadSelfAttention
        self.attn = MultiheadSelfAttention(dims, 4)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.attn(inputs).float().square().mean())


def test_flops_count_the_cpu_bf16_flash_attention_as_the_math_backend():
    """Under CPU bf16 autocast the attention calls torch's CPU flash kernels
    directly; the count must equal the fp32 (math backend) count, which
    is the projections plus 2 * 2*N*N*C forward and twice that backward."""
    model = _Block(16)
    batch = dict(inputs=torch.randn(3, 5, 16))
    fp32 = benchmark.count_train_flops(model, batch, images=2)
    bf16 = benchmark.count_train_flops(
        model, batch, images=2,
        autocast=lambda: torch.autocast('cpu', dtype=torch.bfloat16))
    # qkv (C -> 3C) and proj (C -> C): forward, weight gradients, and the
    # proj's input gradient (the block's input needs none)
    projections = 2 * (2 * 5 * 16 * 64) + 2 * 5 * 16 * 16
    assert fp32 == projections + 12 * 5 * 5 * 16
    assert bf16 == fp32


@pytest.mark.parametrize('flag', [['--data-root', 'imgs'],
                                  ['--fake-images', '8']])
def test_image_flags_on_a_dataset_of_no_files_are_refused_first(
        flag, tmp_path, monkeypatch):
    from pixpretrain.utils.errors import ConfigError
    monkeypatch.setattr(benchmark, 'make_fake_jpegs', None)  # never reached
    with pytest.raises(ConfigError, match=(
            f"{flag[0]}: the config's dataset SyntheticShapes takes no "
            'data_root')):
        run_benchmark([str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'),
                       *flag])


def test_the_work_dir_is_removed_unless_kept(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    argv = [str(REPO / 'tests' / 'fixtures' / 'tiny_mae.py'), '--iters', '1',
            '--warmup', '0', '--batch-size', '2', '--num-workers', '0',
            '--no-flops', '--no-split', '--cfg-options',
            'experiment_name=workdir']
    result = run_benchmark(argv)
    assert 'work_dir' not in result
    assert not list(tmp_path.glob('bench-*'))
    result = run_benchmark(argv + ['--keep-work-dir'])
    (kept, ) = tmp_path.glob('bench-*')
    assert result['work_dir'] == str(kept)
