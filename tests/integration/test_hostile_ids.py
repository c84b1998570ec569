"""Hostile ids stay data: the shop of tests/integration/hostile_ids.py, landed in the `one_day`
fixture, is computed, gated and published like any other, and nothing of its ids reaches a
predicate or a path (the cluster and crash tests run the same day)."""

from __future__ import annotations

import os
from datetime import date

from pyspark.sql import functions as F

from tests.integration.hostile_ids import AGENT, BOT, BUYER, HELD_SHOP, SESSION_BOT, SESSION_HUMAN, SHOP

DAY = date(2026, 3, 2)


def gold_of(spark, settings, table):
    return spark.read.format("delta").load(settings.table_path("gold", table)).where(F.col("shop_id") == SHOP)


def test_the_hostile_shop_is_published_with_its_numbers(spark, one_day):
    _, _, settings = one_day
    shop = {(r.metric, r.segment): (r.numerator, r.denominator) for r in gold_of(spark, settings, "shop_metrics_daily").collect()}
    # Two sessions; the one sent to a human is picked up, and its one buyer message answered in 60 s.
    assert shop[("consult_sessions", "all")] == (2, None)
    assert shop[("transfer_sessions", "all")] == (1, None)
    assert shop[("pickup_rate", "all")] == (1, 1)
    assert shop[("reply_3min_rate", "all")] == (1, 1)
    agents = {(r.agent_id, r.metric) for r in gold_of(spark, settings, "agent_metrics_daily").collect()}
    assert (AGENT, "reply_3min_rate") in agents
    detail = {r.session_id: r for r in gold_of(spark, settings, "session_detail_daily").collect()}
    assert sorted(detail) == sorted([SESSION_HUMAN, SESSION_BOT])
    assert detail[SESSION_HUMAN].buyer_id == BUYER and detail[SESSION_HUMAN].agent_ids == [AGENT]
    assert detail[SESSION_BOT].last_agent_id == BOT
    scenes = {r.scene for r in gold_of(spark, settings, "scene_metrics_daily").where(F.col("scene_level") == 2).collect()}
    assert scenes == {"aftersale' / refund/.."}


def test_a_held_back_hostile_shop_is_the_only_one_left_out(spark, one_day):
    """The publish predicate names held-back shops: HELD_SHOP's quotes must neither widen it
    (dropping every shop) nor break it."""
    _, _, settings = one_day
    held = spark.read.format("delta").load(settings.table_path("quality", "held_back")).collect()
    assert [(r.stat_date, r.shop_id) for r in held] == [(DAY, HELD_SHOP)]
    assert "gold/session_detail_daily [rows]: expect_column_values_to_be_between {'column': 'wait_seconds'}" in held[0].reason
    published = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
    shops = {r.shop_id for r in published.select("shop_id").distinct().collect()}
    assert HELD_SHOP not in shops and SHOP in shops and len(shops) == 4  # the 3 generated shops and SHOP


def test_no_hostile_id_became_a_path(one_day):
    root, _, settings = one_day
    names = [name for _, dirs, files in os.walk(root) for name in dirs + files]
    assert not [n for n in names if "DROP" in n or "'" in n or n.startswith("s\"2")], "an id reached a file or directory name"


def test_the_report_of_the_hostile_shop_is_written_under_a_safe_name(spark, one_day, tmp_path):
    from csmetrics.report import write_report

    _, _, settings = one_day
    path = write_report(spark, settings, SHOP, DAY, tmp_path)
    assert path.parent == tmp_path and "'" not in path.name and "/" not in path.name.removesuffix(".html")
    assert "O&#x27;Hostile &quot;shop&quot;" in path.read_text()
