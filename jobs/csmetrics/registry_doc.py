"""Render the metric registry as the Markdown table of docs/metric-registry.md.

    python -m csmetrics.registry_doc > docs/metric-registry.md

A unit test fails when the committed page and the registry disagree.
"""

from __future__ import annotations

from csmetrics import registry


def render() -> str:
    lines = [
        "# Metric registry",
        "",
        "Generated from `jobs/csmetrics/registry.py` by `python -m csmetrics.registry_doc`; do not edit.",
        "Definitions and worked examples: [metrics.md](metrics.md).",
        "",
        "| metric | family | kind | unit | direction | window (days) | grains | segments | description |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in registry.METRICS:
        lines.append(
            f"| `{m.id}` | {m.family} | {m.kind} | {m.unit or '-'} | {m.direction} | {m.window_days} | "
            f"{', '.join(m.grains)} | {', '.join(m.segments)} | {m.description} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
