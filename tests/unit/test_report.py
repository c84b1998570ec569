"""The shop report's page, rendered from hand-made report data (no Spark): where a metric or
a scene has no benchmark, the page says there are too few peers."""

from __future__ import annotations

from datetime import date

import pandas as pd

from csmetrics.report import ReportData, render

DAY = date(2026, 3, 5)
SHOP = {"shop_id": "s1", "shop_name": "Shop one", "platform": "tmall", "category": "food", "tier": "L1", "timezone": "Asia/Shanghai"}


def report_data(peers: list[dict], worst: list[dict]) -> ReportData:
    return ReportData(
        shop=SHOP,
        day=DAY,
        daily=pd.DataFrame([
            {"stat_date": DAY, "metric": "pickup_rate", "value": 0.9, "maturity": "final"},
            {"stat_date": DAY, "metric": "avg_wait_seconds", "value": 42.0, "maturity": "final"},
        ]),
        peers=pd.DataFrame(peers, columns=["stat_date", "metric", "peer_average", "peer_excellent", "peer_shops"]),
        changes=pd.DataFrame(columns=["metric", "grain", "value", "change"]),
        governance=pd.DataFrame(columns=["metric", "comparison", "threshold", "value", "status", "overall_status"]),
        failing_sessions=pd.DataFrame(),
        scenes=pd.DataFrame(columns=["scene", "sessions"]),
        worst=pd.DataFrame(worst, columns=["rank", "scene", "satisfaction_rate", "ratings", "maturity", "share", "peer_average"]),
        min_scene_ratings=5,
        min_peers=5,
    )


def card(page: str, metric: str) -> str:
    return page[page.index(f"data-metric='{metric}'"):].split("<div class='card'")[0]


def test_a_metric_without_peer_rows_says_too_few_peers():
    page = render(report_data(
        peers=[{"stat_date": DAY, "metric": "pickup_rate", "peer_average": 0.8, "peer_excellent": 0.95, "peer_shops": 6}], worst=[],
    ))
    assert "peers: up to 6 shops a day" in card(page, "pickup_rate")
    assert "too few peers: no benchmark for fewer than 5 shops with enough volume" in card(page, "avg_wait_seconds")


def test_a_worst_scene_without_a_scene_benchmark_says_too_few_peers():
    page = render(report_data(peers=[], worst=[
        {"rank": 1, "scene": "refund/late/where", "satisfaction_rate": 0.5, "ratings": 6, "maturity": "final", "share": 0.1,
         "peer_average": None},
        {"rank": 2, "scene": "order/size/which", "satisfaction_rate": 0.6, "ratings": 8, "maturity": "final", "share": 0.2,
         "peer_average": 0.75},
    ]))
    table = page[page.index("<table id='worst-scenes'>"):].split("</table>")[0]
    assert "<tr><td>1</td><td>refund/late/where</td><td>50.0%</td><td>6</td><td>10.0%</td><td>too few peers</td></tr>" in table
    assert "<tr><td>2</td><td>order/size/which</td><td>60.0%</td><td>8</td><td>20.0%</td><td>75.0%</td></tr>" in table
