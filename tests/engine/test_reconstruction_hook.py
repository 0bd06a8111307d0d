import torch

from pixpretrain.models.algorithms.mae import mae_reconstruction_grid
from pixpretrain.models import MAE, MAEDecoder, MAEHead, VisionTransformer


def test_grid_layout_and_visible_patches_are_pasted_back():
    torch.manual_seed(0)
    model = MAE(
        backbone=VisionTransformer(
            arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                      mlp_ratio=2.0), img_size=16, patch_size=4),
        neck=MAEDecoder(num_patches=16, patch_size=4, encoder_dims=16,
                        decoder_dims=8, decoder_depth=1,
                        decoder_num_heads=2),
        head=MAEHead(patch_size=4))
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    grid = mae_reconstruction_grid(model, images)
    assert grid.shape == (3 * 16, 4 * 16, 3) and grid.dtype.name == 'uint8'
    original = images.permute(0, 2, 3, 1).reshape(48, 16, 3).numpy()
    assert (grid[:, :16] == original).all()
    # Last column: visible patches are the original pixels (within rounding);
    # masked ones come from the decoder, so most of them differ.
    pasted, masked = grid[:, 48:].astype(int), grid[:, 16:32]
    mean_colour = [124, 116, 104]  # normalised 0 = ImageNet mean, rounded
    visible = (masked != mean_colour).any(-1)
    diff = abs(pasted - original.astype(int))
    assert diff[visible].max() <= 1
    assert diff[~visible].mean() > 5
    # The hook draws it through MAE.pictures(), in eval mode.
    from pixpretrain.models.utils.pictures import model_pictures
    drawn = model_pictures(model, images)
    assert drawn.keys() == {'reconstructions'}
    assert (drawn['reconstructions'] == grid).all() and model.training


def test_tile_lays_out_rows_with_white_gaps():
    import numpy as np

    from pixpretrain.models.utils.pictures import tile
    a, b = np.zeros((2, 3, 1), np.uint8), np.full((2, 1, 1), 7, np.uint8)
    assert tile([[a, b], [b, a]]).shape == (4, 4, 1)
    picture = tile([[a, b], [b, a]], gap=1, scale=2)
    assert picture.shape == (2 * 5, 2 * 5, 1)
    assert picture[::2, ::2, 0].tolist() == [
        [0, 0, 0, 255, 7], [0, 0, 0, 255, 7], [255] * 5,
        [7, 255, 0, 0, 0], [7, 255, 0, 0, 0]]


# --- the hook inside a Runner -------------------------------------------

import itertools  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from mmengine.model import BaseModel  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from PIL import Image  # noqa: E402

from pixpretrain.datasets import SyntheticShapes  # noqa: E402
from pixpretrain.engine import ReconstructionHook  # noqa: E402
from pixpretrain.utils import ConfigError  # noqa: E402

_names = itertools.count()


class Painter(BaseModel):
    """Draws its own picture: each image's negative, plus a random stripe
    (to show the hook seeds the RNG)."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.calls = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=(self.weight**2).sum())

    def pictures(self, images):
        self.calls.append(self.training)
        stripe = torch.randint(0, 256, (1, images.shape[-1], 3),
                               dtype=torch.uint8)
        negative = (255 - images).permute(0, 2, 3, 1).flatten(0, 1)
        return {'completions': torch.cat([negative, stripe]).numpy()}


class Blank(Painter):
    pictures = None


def run(model, work_dir, hook, pipeline=(dict(type='PackInputs'), ),
        **train_cfg):
    runner = Runner(
        model=model, work_dir=str(work_dir),
        experiment_name=f'picture_hook_{next(_names)}',
        randomness=dict(seed=0),
        train_dataloader=dict(
            dataset=SyntheticShapes(num_samples=8, img_size=8,
                                    pipeline=list(pipeline)),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4, collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        custom_hooks=[hook], default_hooks=dict(checkpoint=None),
        default_scope='pixpretrain', log_level='WARNING')
    runner.train()
    return runner


def test_pictures_every_n_epochs_and_at_the_end(tmp_path):
    model = Painter()
    hook = ReconstructionHook(interval=2, by_epoch=True, num_images=3,
                              scale=2)
    run(model, tmp_path, hook, by_epoch=True, max_epochs=5)
    folder = tmp_path / 'completions'
    assert sorted(p.name for p in folder.iterdir()) == [
        'epoch_2.png', 'epoch_4.png', 'epoch_5.png']
    assert model.calls == [False] * 3  # drawn in eval mode
    assert model.training  # and back to training afterwards
    picture = np.asarray(Image.open(folder / 'epoch_4.png'))
    dataset = SyntheticShapes(num_samples=8, img_size=8)
    images = torch.stack([torch.from_numpy(dataset.get_data_info(i)['img'])
                          for i in range(3)])  # (3, 8, 8, 3)
    negative = (255 - images).flatten(0, 1).numpy()  # (3 * 8, 8, 3)
    assert picture.shape == (2 * 25, 2 * 8, 3)
    assert (picture[:48:2, ::2] == negative).all()
    # Seeded: the random stripe is the same in every picture.
    first = np.asarray(Image.open(folder / 'epoch_2.png'))
    assert (first == picture).all()
    # The visualizer's backends get them too (LocalVisBackend by default).
    sent = list(tmp_path.glob('*/vis_data/vis_image/completions_*.png'))
    assert sorted(int(p.stem.split('_')[1]) for p in sent) == [4, 8, 10]


def test_pictures_every_n_iterations(tmp_path):
    hook = ReconstructionHook(interval=3)
    run(Painter(), tmp_path, hook, by_epoch=False, max_iters=7)
    assert sorted(p.name for p in (tmp_path / 'completions').iterdir()) == [
        'iter_3.png', 'iter_6.png', 'iter_7.png']
    assert hook.last_path == str(tmp_path / 'completions' / 'iter_7.png')


def test_a_model_that_cannot_draw_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match='pictures'):
        run(Blank(), tmp_path, ReconstructionHook(), by_epoch=False,
            max_iters=1)


@pytest.mark.parametrize('kwargs', [dict(interval=-1), dict(scale=0),
                                    dict(num_images=0)])
def test_out_of_range_arguments_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        ReconstructionHook(**kwargs)


def test_drawing_leaves_the_training_random_streams_alone(tmp_path):
    """Two runs differing only in the hook draw the same training numbers."""
    draws = {}
    for interval in (0, 1):
        class Recorder(Painter):
            def forward(self, inputs, data_samples=None, mode='loss'):
                draws.setdefault(interval, []).append(
                    (torch.rand(1).item(), np.random.rand()))
                return super().forward(inputs, data_samples, mode)
        # The pipeline draws from numpy, the model from torch.
        run(Recorder(), tmp_path / str(interval),
            ReconstructionHook(interval=interval),
            pipeline=[dict(type='RandomFlip', prob=0.5),
                      dict(type='PackInputs')], by_epoch=False, max_iters=3)
    assert draws[0] == draws[1]
