"""Metrics and evaluators usable in a config's ``val_evaluator``."""
__all__: list = []
