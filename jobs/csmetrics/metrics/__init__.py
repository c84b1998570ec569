"""Metric transforms: DataFrames in, long-format metric rows out."""
