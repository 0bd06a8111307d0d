"""How well a captioner captions held-out images: per-token NLL of their
reference captions against the captions' unigram entropy, and the share of
generated captions that name the image's class."""
from collections import Counter
from typing import Dict, List, Sequence

import torch

from pixpretrain.datasets.tokenizers import PAD_ID, SOT_ID
from pixpretrain.evaluation.metrics.caption import decode_caption, names_class
from pixpretrain.models.algorithms.image_captioner import trim_padding


def unigram_entropy(tokens: torch.Tensor) -> float:
    """Entropy in nats of the token frequencies over the predicted tokens
    of (N, L) caption rows (caption and end token; start and padding left
    out): the NLL per token of a model that ignores image and context."""
    targets = tokens[(tokens != PAD_ID) & (tokens != SOT_ID)]
    counts = torch.bincount(targets).double()
    probs = counts[counts > 0] / counts.sum()
    return float(-(probs * probs.log()).sum())


@torch.no_grad()
def caption_quality(model: torch.nn.Module, images: torch.Tensor,
                    tokens: torch.Tensor, labels: Sequence[int],
                    class_names: Sequence[str], tokenizer,
                    batch_size: int = 100) -> Dict[str, float]:
    """Held-out caption figures of a captioner (``ImageCaptioner``/``CoCa``).

    Args:
        model: Has ``data_preprocessor``, ``image_tokens``,
            ``caption_nll`` and ``generate_from_tokens``.
        images: (N, 3, H, W) uint8 images at the model's input size.
        tokens: (N, L) reference caption ids, one per image.
        labels: N class indices into ``class_names``.
        class_names: The names captions use.
        tokenizer: Decodes generated ids.
        batch_size: Images per forward pass.

    Returns:
        ``nll_per_token`` (nats, as the ``CaptionNLL`` metric scores),
        ``unigram_entropy`` (nats), ``names_class`` (% of greedy captions
        naming the image's class and no other) and ``images``.
    """
    model.eval()
    device = next(model.parameters()).device
    total_nll, total_tokens, named = 0.0, 0, 0
    captions: List[str] = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        ids = tokens[start:start + batch_size].to(device)
        ids = trim_padding(ids, PAD_ID)
        inputs = model.data_preprocessor(dict(inputs=batch),
                                         training=False)['inputs']
        image = model.image_tokens(inputs)
        nll, scored = model.caption_nll(image, ids)  # (B, ), (B, )
        total_nll += float(nll.sum())
        total_tokens += int(scored.sum())
        captions += [decode_caption(row, tokenizer)
                     for row in model.generate_from_tokens(image).tolist()]
    for caption, label in zip(captions, labels):
        named += names_class(caption, class_names[label], class_names)
    return dict(nll_per_token=total_nll / total_tokens,
                unigram_entropy=unigram_entropy(tokens),
                names_class=100.0 * named / len(captions),
                images=float(len(captions)),
                most_common_caption_share=100.0 * Counter(
                    captions).most_common(1)[0][1] / len(captions))
