"""Expectation suites: `bronze.py` for every bronze table (from its landing contract), one
module per gold table (`shop_metrics_daily.py`, `agent_metrics_daily.py`).

A suite exposes `expectations(...) -> list[Check]` and the keys that name a failing row; a
`Check` (csmetrics.quality.checks) pairs a GX 1.x expectation, which carries its own
severity (GX's `severity`: critical by default, `severity="warning"` where declared), with the
view of the table it reads and where a failure holds data back (the table or the shop-day).
Warnings are recorded and the run goes on.
"""
