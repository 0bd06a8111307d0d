"""MoCo across two gloo processes: shuffle-BN and the shared queue."""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

BATCH, QUEUE, STEPS = 4, 20, 3  # 8 keys per step: the third step wraps
pytestmark = pytest.mark.distributed  # see tests/conftest.py


def _worker(rank: int, store: str, results: dict) -> None:
    torch.set_num_threads(1)  # two processes on a shared CPU
    # A file rendezvous: no port to pick, none to collide.
    dist.init_process_group('gloo', init_method=f'file://{store}',
                            rank=rank, world_size=2)
    try:
        from mmengine.model import MMDistributedDataParallel
        from mmengine.optim import OptimWrapper

        from pixpretrain.models import MoCo
        from pixpretrain.models.utils import batch_shuffle, batch_unshuffle

        # Shuffle-BN's permutation: a share of both ranks' samples, and back.
        torch.manual_seed(rank)  # rank 0's permutation must win
        local = torch.arange(6.).view(6, 1) + 100 * rank
        shuffled, unshuffle = batch_shuffle(local)
        restored = batch_unshuffle(shuffled * 2, unshuffle)

        torch.manual_seed(0)  # same initial model on both ranks
        model = MoCo(
            backbone=dict(type='ResNet', depth=18),
            neck=dict(type='NonLinearNeck', in_channels=512,
                      hid_channels=32, out_channels=16),
            head=dict(type='MoCoQueueHead', feat_dim=16, queue_len=QUEUE),
            momentum=0.9)
        model.init_weights()
        initial_queue = model.head.queue.clone()
        enqueued = []
        enqueue = model.head.enqueue

        def recording_enqueue(keys):
            enqueued.append(keys.clone())
            enqueue(keys)

        model.head.enqueue = recording_enqueue
        ddp = MMDistributedDataParallel(module=model, device_ids=None,
                                        broadcast_buffers=False)
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        generator = torch.Generator().manual_seed(10 + rank)
        for _ in range(STEPS):
            images = [torch.randint(0, 256, (BATCH, 3, 16, 16),
                                    dtype=torch.uint8, generator=generator)
                      for _ in range(2)]
            ddp.train_step(dict(inputs=images), optim)
        results[rank] = dict(
            shuffled=shuffled, restored=restored, local=local,
            initial_queue=initial_queue, keys=enqueued,
            queue=model.head.queue.clone(), ptr=model.head.queue_ptr.item(),
            key_weight=model.momentum_encoder['backbone'].conv1.weight.clone())
    finally:
        dist.destroy_process_group()


def test_two_ranks_share_one_queue_holding_both_ranks_keys(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(str(tmp_path / 'store'), results), nprocs=2)
    r0, r1 = results[0], results[1]

    # Shuffle-BN: together the ranks hold every sample once; unshuffling
    # returns each rank's own samples in their order.
    both = torch.cat([r0['local'], r1['local']]).view(-1)
    assert sorted(torch.cat([r0['shuffled'], r1['shuffled']]).view(
        -1).tolist()) == sorted(both.tolist())
    assert not torch.equal(r0['shuffled'], r0['local'])
    for r in (r0, r1):
        torch.testing.assert_close(r['restored'], 2 * r['local'])

    # The queue: identical on both ranks, rank 0's keys then rank 1's for
    # every step, written with wrap-around from the shared initial queue.
    assert torch.equal(r0['initial_queue'], r1['initial_queue'])
    assert torch.equal(r0['queue'], r1['queue'])
    assert r0['ptr'] == r1['ptr'] == (STEPS * 2 * BATCH) % QUEUE
    expected = r0['initial_queue'].clone()
    ptr = 0
    for step in range(STEPS):
        keys = torch.nn.functional.normalize(
            torch.cat([r0['keys'][step], r1['keys'][step]]), dim=1)
        for row in keys:
            expected[ptr] = row
            ptr = (ptr + 1) % QUEUE
    torch.testing.assert_close(r0['queue'], expected)
    # Ranks saw different images, yet DDP keeps the encoders identical.
    assert not torch.allclose(r0['keys'][0], r1['keys'][0])
    assert torch.equal(r0['key_weight'], r1['key_weight'])
