"""Synthetic landing data that looks like a real marketplace (see `generate`)."""

from csmetrics_generate.run import GenerateOptions, generate

__all__ = ["GenerateOptions", "generate"]
