"""Tables derived from published daily metrics: weekly rollups, governance, peer benchmarks, leaderboards."""
