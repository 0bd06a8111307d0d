"""Two gloo processes: the gathered loss and its gradients equal one process
computing the loss on the concatenated batch."""
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from pixpretrain.models import ContrastiveTextHead
from pixpretrain.models.utils import concat_all_gather, gather_with_grad

WORLD, PER_RANK = 2, 3
pytestmark = pytest.mark.distributed  # see tests/conftest.py


def build():
    """Tiny image/text encoders + the head; identical on every rank."""
    torch.manual_seed(0)
    image_encoder = nn.Linear(5, 6).double()
    text_encoder = nn.Linear(4, 6).double()
    head = ContrastiveTextHead(6, 6, embed_dims=3,
                               init_temperature=0.2).double()
    return nn.ModuleList([image_encoder, text_encoder, head])


def batch():
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(WORLD * PER_RANK, 5, generator=generator,
                         dtype=torch.float64)
    texts = torch.randn(WORLD * PER_RANK, 4, generator=generator,
                        dtype=torch.float64)
    return images, texts


def loss_of(model, images, texts):
    image_encoder, text_encoder, head = model
    return head.loss(image_encoder(images), text_encoder(texts))


def worker(rank: int, store: str, out_dir: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{store}',
                            rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    model = build()
    images, texts = batch()
    rows = slice(rank * PER_RANK, (rank + 1) * PER_RANK)
    loss = loss_of(model, images[rows], texts[rows])
    loss.backward()
    # What DistributedDataParallel does with the gradients: the mean.
    for param in model.parameters():
        dist.all_reduce(param.grad)
        param.grad /= WORLD
    gathered = concat_all_gather(images[rows].requires_grad_())
    torch.save(
        dict(loss=loss.detach(),
             grads={n: p.grad for n, p in model.named_parameters()},
             gathered=gathered, gathered_requires_grad=gathered.requires_grad),
        os.path.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


def test_two_ranks_equal_one_process_on_the_concatenated_batch(tmp_path):
    mp.spawn(worker, args=(str(tmp_path / 'store'), str(tmp_path)),
             nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f'rank{r}.pth') for r in range(WORLD)]

    model = build()
    images, texts = batch()
    loss = loss_of(model, images, texts)
    loss.backward()

    # Each rank scores its rows against the global batch; their mean is the
    # single-process loss.
    mean_loss = sum(r['loss'] for r in results) / WORLD
    assert mean_loss.item() == pytest.approx(loss.item(), rel=1e-10)
    assert results[0]['loss'].item() != pytest.approx(
        results[1]['loss'].item())  # the ranks' losses do differ
    for name, param in model.named_parameters():
        for result in results:
            torch.testing.assert_close(result['grads'][name], param.grad,
                                       rtol=1e-9, atol=1e-15)
    for result in results:
        torch.testing.assert_close(result['gathered'], images)
        assert not result['gathered_requires_grad']


def test_single_process_gathers_are_identity():
    x = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(x) is x
    out = concat_all_gather(x)
    assert torch.equal(out, x) and not out.requires_grad
