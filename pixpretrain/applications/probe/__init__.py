"""Linear and kNN probes at every layer of a backbone, in one pass: an
application built on the API (``init_model``, ``extract_features``) and the
evaluation library (kNN, zero-shot classifiers); ``tools/analysis/probe.py``
is its command line."""
from .data import (PRESETS, build_probe_splits, eval_pipeline,
                   evenly_spaced_indices)
from .features import extract_to_cache, file_sha256, init_distributed
from .linear import (DEFAULT_WEIGHT_DECAYS, LinearProbeResult,
                     classifier_accuracy, linear_probe,
                     train_softmax_classifiers)
from .rows import StandardisedRows, feature_statistics
from .store import FeatureCache, FeatureFile
from .knn import knn_probe
from .layers import METHODS, backbone_depth, parse_layers, probe_model
from .probe import ProbeSettings, build_probe_model, random_init, run_probe
from .sources import LabelledSplits, TensorImages
from .report import format_table, plot_accuracy, write_json

__all__ = [
    'PRESETS', 'build_probe_splits', 'eval_pipeline', 'evenly_spaced_indices',
    'FeatureCache', 'FeatureFile', 'extract_to_cache', 'file_sha256',
    'init_distributed',
    'DEFAULT_WEIGHT_DECAYS', 'LinearProbeResult', 'classifier_accuracy',
    'linear_probe', 'StandardisedRows', 'feature_statistics',
    'train_softmax_classifiers', 'METHODS',
    'ProbeSettings', 'backbone_depth', 'build_probe_model', 'knn_probe',
    'parse_layers', 'probe_model', 'random_init', 'run_probe',
    'LabelledSplits', 'TensorImages', 'format_table', 'plot_accuracy', 'write_json'
]
