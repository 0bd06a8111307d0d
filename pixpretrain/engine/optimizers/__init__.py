"""Optimizer wrapper constructors (mmengine's default serves pretraining)."""
__all__: list = []
