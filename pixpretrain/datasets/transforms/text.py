"""Turning a sample's caption(s) into the text encoder's token ids."""
from typing import Callable, Union

import numpy as np
from mmcv.transforms import BaseTransform

from pixpretrain.registry import TRANSFORMS
from pixpretrain.utils.errors import ConfigError
from ..tokenizers import build_tokenizer

CAPTION_CHOICES = ('random', 'first')


@TRANSFORMS.register_module()
class TokenizeText(BaseTransform):
    """Pick one caption of the sample and tokenize it.

    Reads ``results['captions']`` (a list: several captions per image) or
    ``results['text']`` (one string); sets ``text`` to the chosen caption
    and ``text_tokens`` to its ``(context_length, )`` int64 ids, which
    :class:`PackInputs` carries to the model.

    Args:
        tokenizer: Config of a tokenizer in the ``TOKENIZERS`` registry
            (e.g. ``dict(type='ByteTokenizer', context_length=77)``), or a
            tokenizer.
        caption_choice: 'random' draws one caption per call (a new pairing
            every epoch, from numpy's per-worker seeded RNG); 'first' always
            takes the first.
    """

    def __init__(self, tokenizer: Union[dict, Callable],
                 caption_choice: str = 'random') -> None:
        if caption_choice not in CAPTION_CHOICES:
            raise ConfigError(f'caption_choice must be one of '
                              f'{CAPTION_CHOICES}, got {caption_choice!r}')
        self.tokenizer = build_tokenizer(tokenizer)
        self.caption_choice = caption_choice

    def transform(self, results: dict) -> dict:
        """Tokenize one caption of ``results``.

        Args:
            results (dict): Holds ``captions`` (list of str) or ``text``.

        Returns:
            dict: ``results`` with ``text`` and ``text_tokens`` set.
        """
        captions = results.get('captions')
        if captions is None:
            if 'text' not in results:
                raise ConfigError(
                    "TokenizeText needs results['captions'] or "
                    "results['text']: use a captioned data set "
                    '(PromptCaptions, ImageCaptionManifest, caption shards)')
            captions = [results['text']]
        if not captions:
            raise ConfigError(f"sample {results.get('img_path', '')!r} has "
                              'an empty caption list: give every image of '
                              'the data set at least one caption')
        index = np.random.randint(len(captions)) \
            if self.caption_choice == 'random' else 0
        results['text'] = captions[index]
        results['text_tokens'] = self.tokenizer(captions[index])[0]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(tokenizer={self.tokenizer!r}, '
                f'caption_choice={self.caption_choice!r})')
