"""The shared flag types refuse a wrong value with a message naming it."""
import argparse

import pytest
import torch

from pixpretrain.apis import cli_types


@pytest.mark.parametrize('parse, text, value', [
    (cli_types.positive_int, '3', 3),
    (cli_types.non_negative_int, '0', 0),
    (cli_types.positive_float, '0.5', 0.5),
    (cli_types.non_negative_float, '0', 0.0),
    (cli_types.positive_int_list, '20, 200', [20, 200]),
    (cli_types.non_negative_float_list, '0,1e-4', [0.0, 1e-4]),
    (cli_types.device, 'cpu', 'cpu'),
])
def test_accepts(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize('parse, text, words', [
    (cli_types.positive_int, '0', 'must be 1 or more'),
    (cli_types.positive_int, 'abc', "'abc' is not an integer"),
    (cli_types.non_negative_int, '-1', 'must be 0 or more'),
    (cli_types.positive_float, '0', 'must be above 0'),
    (cli_types.positive_float, 'nan', 'not a finite number'),
    (cli_types.non_negative_float, '-1', 'must be 0 or more'),
    (cli_types.positive_int_list, 'abc', "'abc' is not an integer"),
    (cli_types.positive_int_list, '20,-3', 'must be 1 or more'),
    (cli_types.positive_int_list, '20,', 'without blanks'),
    (cli_types.non_negative_float_list, 'abc', "'abc' is not a number"),
    (cli_types.device, 'tpu', 'use cpu, cuda or cuda:N'),
    (cli_types.device, 'meta', 'use --device cpu'),
])
def test_refuses_naming_the_value(parse, text, words):
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        parse(text)


def test_cuda_without_a_cuda_device_names_the_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(argparse.ArgumentTypeError,
                       match='no CUDA device here; use --device cpu'):
        cli_types.device('cuda')


def test_cuda_index_beyond_the_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert cli_types.device('cuda:1') == 'cuda:1'
    with pytest.raises(argparse.ArgumentTypeError, match='cuda:0 to cuda:1'):
        cli_types.device('cuda:2')
