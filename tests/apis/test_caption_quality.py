"""Caption figures: unigram entropy, held-out NLL."""
import math

import pytest
import torch

from pixpretrain.apis.analysis.caption_quality import (caption_quality,
                                                       unigram_entropy)
from pixpretrain.datasets import ByteTokenizer
from pixpretrain.models import ImageCaptioner


def test_unigram_entropy_counts_caption_and_end_tokens_only():
    tokens = torch.tensor([[1, 5, 5, 2, 0], [1, 6, 2, 0, 0]])
    # Targets 5, 5, 2, 6, 2: p = 2/5, 2/5, 1/5.
    expected = -(2 * 0.4 * math.log(0.4) + 0.2 * math.log(0.2))
    assert unigram_entropy(tokens) == pytest.approx(expected)


def test_caption_quality_nll_is_the_token_weighted_loss():
    # Teacher-forced CaptionHead: the mean NLL over the set is the loss.
    torch.manual_seed(0)
    tokenizer = ByteTokenizer(context_length=16)
    model = ImageCaptioner(
        backbone=dict(type='VisionTransformer', img_size=32, patch_size=8,
                      arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                mlp_ratio=2.0)),
        text_backbone=dict(type='TextTransformer', vocab_size=259,
                           context_length=16,
                           arch=dict(embed_dims=16, num_layers=1,
                                     num_heads=2, mlp_ratio=2.0)),
        head=dict(type='CaptionHead', image_dims=32, text_dims=16,
                  vocab_size=259, num_layers=1, num_heads=2)).eval()
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    tokens = tokenizer(['a cat.', 'a big dog.', 'a dog.'])
    out = caption_quality(model, images, tokens, [0, 1, 1], ['cat', 'dog'],
                          tokenizer, batch_size=2)
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=images),
                                         training=False)['inputs']
        expected = model.caption_loss(model.image_tokens(inputs),
                                      tokens).item()
    assert out['nll_per_token'] == pytest.approx(expected, rel=1e-4)
    assert out['images'] == 3 and 0 <= out['names_class'] <= 100
