import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pixpretrain.models.utils import concat_all_gather, gather_with_grad


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _features(rank: int) -> torch.Tensor:
    return torch.arange(6, dtype=torch.float32).view(3, 2) + 10 * rank


def _loss(features: torch.Tensor) -> torch.Tensor:
    # Couples every row to every other row, like a contrastive loss.
    return (features @ features.T).logsumexp(1).mean()


def _worker(rank: int, port: int, results: dict) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        local = _features(rank).requires_grad_()
        gathered = gather_with_grad(local)
        _loss(gathered).backward()
        results[rank] = (concat_all_gather(_features(rank)),
                         gathered.detach(), local.grad)
    finally:
        dist.destroy_process_group()


def test_gathers_are_identity_without_a_process_group():
    tensor = torch.randn(4, 3)
    assert concat_all_gather(tensor) is tensor
    assert gather_with_grad(tensor) is tensor


def test_two_gloo_ranks_gather_in_rank_order_and_sum_gradients():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2)
    both = torch.cat([_features(0), _features(1)])
    reference = both.clone().requires_grad_()
    _loss(reference).backward()
    for rank in (0, 1):
        no_grad_gather, grad_gather, local_grad = results[rank]
        torch.testing.assert_close(no_grad_gather, both)
        torch.testing.assert_close(grad_gather, both)
        # Each rank's loss is the global one; the backward sums both ranks'
        # gradients into the local slice: 2 × the single-process gradient,
        # which DDP's averaging over 2 ranks brings back to 1 ×.
        torch.testing.assert_close(local_grad,
                                   2 * reference.grad[3 * rank:3 * rank + 3])
