"""Expectation suites, one module per table (same stem as its schema and job).

Each module exposes `expectations(context) -> list[Check]`; a `Check` pairs a GX 1.x
expectation with its severity and the frame it applies to. Critical checks block
publication; warnings are recorded and published.
"""
