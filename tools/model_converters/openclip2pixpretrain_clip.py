"""Convert OpenCLIP CLIP weights (a ViT image tower) to pixpretrain's CLIP.

    python tools/model_converters/openclip2pixpretrain_clip.py SRC.pt DST.pth

SRC is an OpenCLIP ``model.state_dict()`` saved with ``torch.save`` (e.g.
``open_clip.create_model('ViT-B-32', pretrained=...)``; towers with exact
GELU, not OpenAI's QuickGELU ones). DST is a pixpretrain checkpoint for
``load_from``, ``tools/test.py`` or ``init_model``, with the config of
``configs/clip/vit-b-32_openclip.py``; the tool prints the model config the
weights load into.
"""
import sys
from typing import List, Optional

from pixpretrain.apis.cli import convert_main
from pixpretrain.models.converters import (describe_openclip_clip,
                                           openclip_to_pixpretrain_clip)


def main(argv: Optional[List[str]] = None) -> int:
    """Convert SRC to DST; the exit code."""
    return convert_main(__doc__, openclip_to_pixpretrain_clip,
                        describe_openclip_clip, argv=argv)


if __name__ == '__main__':
    sys.exit(main())
