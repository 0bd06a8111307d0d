"""OpenCLIP's tokenizer (CLIP's byte-level BPE, 49,408 ids) as a
``TOKENIZERS`` entry, so that converted OpenCLIP weights read the ids they
were trained on.

The vocabulary file ships inside the ``open_clip_torch`` package (``pip
install 'pixpretrain[openclip]'``); nothing is downloaded. Its id layout is
OpenCLIP's, not pixpretrain's: 0 padding, 49406 start, 49407 end, so a text
backbone reading it needs ``vocab_size=49408`` and ``eot_id=49407``.
"""
from typing import Iterable, List, Sequence, Union

import torch

from pixpretrain.registry import TOKENIZERS
from pixpretrain.utils.optional import require
from .tokenizers import IdDecoding, check_context_length, check_texts

PAD_ID = 0


@TOKENIZERS.register_module()
class OpenCLIPTokenizer(IdDecoding):
    """CLIP's BPE through ``open_clip.tokenizer.SimpleTokenizer``.

    Captions are cleaned as OpenCLIP cleans them (ftfy, HTML unescaping,
    whitespace, lower case). A call returns ``(N, context_length)`` int64
    ids: start, tokens, end, padding; a long caption is cut so that the end
    token stays last, as OpenCLIP does.

    Args:
        context_length: Length of every returned row (77 in CLIP).
    """

    def __init__(self, context_length: int = 77) -> None:
        require('open_clip', 'openclip', 'OpenCLIPTokenizer')
        context_length = check_context_length(context_length)
        from open_clip.tokenizer import SimpleTokenizer
        self.context_length = context_length
        self._bpe = SimpleTokenizer(context_length=context_length)

    @property
    def vocab_size(self) -> int:
        """49408; the text backbone's ``vocab_size`` must cover it."""
        return len(self._bpe.encoder)

    @property
    def sot_id(self) -> int:
        return self._bpe.sot_token_id

    @property
    def eot_id(self) -> int:
        """The text backbone's ``eot_id`` (49407)."""
        return self._bpe.eot_token_id

    def encode(self, text: str) -> List[int]:
        """The caption's token ids, without start, end or padding."""
        return self._bpe.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (start, end and padding skipped) -> cleaned text."""
        special = {PAD_ID, self.sot_id, self.eot_id}
        return self._bpe.decode(
            [i for i in self._id_row(ids) if i not in special]).strip()

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        """Captions -> (N, context_length) int64 ids (a str counts as
        N=1)."""
        return self._bpe(check_texts(texts),
                         context_length=self.context_length)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(vocab_size={self.vocab_size}, '
                f'context_length={self.context_length})')
