"""Fit a byte-level BPE tokenizer on a config's training captions.

    python tools/dataset_converters/fit_bpe.py \
        configs/clip/vit-b-32_own-data.py

reads the captions of the config's training data set (manifest, prompt
captions or shards), learns merges until the vocabulary reaches the text
backbone's ``vocab_size`` (or no pair repeats), and writes the JSON file
named by the pipeline's ``TokenizeText(tokenizer=dict(type='BPETokenizer',
vocab_file=...))``, beside the run, where training will read it.
"""
import argparse
import os
import sys
from typing import Optional, Sequence

from pixpretrain.apis.cli import add_cfg_options, doc_summary, run_cli
from pixpretrain.apis.cli_types import positive_int


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc_summary(__doc__))
    parser.add_argument('config')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output file (checkpoints '
                        'trained with the old vocabulary no longer match it)')
    parser.add_argument('--out', default=None,
                        help="where to write (default: the config's "
                        'BPETokenizer vocab_file)')
    parser.add_argument('--vocab-size', type=positive_int, default=None,
                        help="default: the config's "
                        'model.text_backbone.vocab_size')
    parser.add_argument('--min-frequency', type=positive_int, default=2,
                        help='never merge pairs rarer than this')
    parser.add_argument('--max-captions', type=positive_int, default=None,
                        help='fit on the first N captions only')
    add_cfg_options(parser, help='override config keys, as in tools/train.py')
    return parser.parse_args(argv)


def find_tokenizer_cfg(pipeline) -> Optional[dict]:
    """The ``tokenizer`` of the pipeline's TokenizeText step, if any."""
    for step in pipeline or ():
        if isinstance(step, dict) and step.get('type') == 'TokenizeText':
            return step.get('tokenizer')
    return None


def fit(args: argparse.Namespace) -> None:
    """Fit the tokenizer on the config's captions and save it."""
    from itertools import islice

    from pixpretrain.apis import load_config
    from pixpretrain.datasets import BPETokenizer
    from pixpretrain.datasets.bpe import BYTE_VOCAB_SIZE
    from pixpretrain.registry import DATASETS
    from pixpretrain.registry import register_all_modules
    from pixpretrain.utils import ConfigError, check_output_path
    from pixpretrain.utils.progress import progress_bar

    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset
    tokenizer_cfg = find_tokenizer_cfg(dataset_cfg.get('pipeline')) or {}
    out = args.out or tokenizer_cfg.get('vocab_file')
    if not out:
        raise ConfigError(
            'the training pipeline has no TokenizeText with a '
            'BPETokenizer vocab_file; pass --out PATH')
    check_output_path(out, '--out' if args.out else 'vocab_file',
                      keep=None if args.overwrite else
                      'checkpoints trained with that vocabulary read it')
    vocab_size = args.vocab_size if args.vocab_size is not None else \
        cfg.model.get('text_backbone', {}).get('vocab_size')
    if not vocab_size:
        raise ConfigError('the config has no '
                          'model.text_backbone.vocab_size; pass '
                          '--vocab-size N')
    if vocab_size < BYTE_VOCAB_SIZE:  # before reading any caption
        raise ConfigError(f'vocab_size = {vocab_size}: a byte-level BPE '
                          f'vocabulary holds at least {BYTE_VOCAB_SIZE} ids '
                          '(3 special + 256 bytes); give --vocab-size '
                          f'{BYTE_VOCAB_SIZE} or more')
    # Captions only: no transforms, no images decoded.
    dataset_cfg = dict(dataset_cfg, pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    captions = list(islice(dataset.iter_captions(), args.max_captions))
    if not captions:
        raise ConfigError(f'{type(dataset).__name__} of the config holds no '
                          'captions to fit on: check its data_root and '
                          'annotation file')
    print(f'{len(captions)} captions; fitting up to '
          f'{vocab_size - 259} merges')
    with progress_bar(total=vocab_size - 259, desc='merges') as bar:
        tokenizer = BPETokenizer.fit(
            captions, vocab_size,
            context_length=tokenizer_cfg.get('context_length', 77),
            lowercase=tokenizer_cfg.get('lowercase', True),
            min_frequency=args.min_frequency, progress=bar.update)
    tokenizer.save(out)
    lengths = [len(tokenizer.encode(c)) for c in captions[:10000]]
    print(f'{len(tokenizer.merges)} merges, vocab_size '
          f'{tokenizer.vocab_size}; {sum(lengths) / len(lengths):.1f} tokens '
          f'per caption on average; written to {os.path.abspath(out)}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Fit the tokenizer; the exit code (1 after a one-line error)."""
    return run_cli(fit, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
