"""A held-back shop-day becomes final: later runs retry it until it passes, or an operator
releases it; its week is final only once it is (docs/maturity.md, "Held-back shop-days").

Four Shanghai shops, each with a session a day from Saturday 2026-03-07 to Monday 03-09.
On Saturday, shops b, c and d each have a session whose `assigned_at` is 30 s before its
`queue_entered_at` (clocks of two systems that disagree): avg_wait_seconds is negative,
which cannot be, so the gold gate holds those shop-days back at the run for Sunday, the
run that makes Saturday final. The run for Monday makes Sunday final, which ends the ISO
week of 03-02.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from csmetrics.pipeline import release, run_daily
from tests.conftest import local
from tests.integration.landing_files import write_landing
from tests.integration.warehouses import Warehouse

SATURDAY, SUNDAY, MONDAY = (date(2026, 3, 7) + timedelta(days=i) for i in range(3))
WEEK = date(2026, 3, 2)
SHOPS = ("a", "b", "c", "d")
HELD = ("b", "c", "d")
quiet = lambda message: None  # noqa: E731


def session(shop: str, day: date, number: int, wait_s: int, updated: datetime | None = None) -> dict:
    started = local(f"{day} 10:0{number}:00")
    return {
        "session_id": f"{shop}-{day}-{number}", "shop_id": shop, "buyer_id": f"buyer-{shop}-{number}", "started_at": started,
        "ended_at": started + timedelta(minutes=5), "transferred_to_human_at": started, "queue_entered_at": started,
        "assigned_at": started + timedelta(seconds=wait_s), "last_agent_id": f"agent-{shop}", "is_internal": False,
        "is_spam": False, "scene_l1": None, "scene_l2": None, "scene_l3": None, "updated_at": updated or started,
    }


def messages(row: dict) -> list[dict]:
    started = row["started_at"]
    return [
        {"message_id": f"{row['session_id']}-1", "session_id": row["session_id"], "shop_id": row["shop_id"], "sender_role": "buyer",
         "agent_id": None, "sent_at": started + timedelta(seconds=30), "msg_type": "text"},
        {"message_id": f"{row['session_id']}-2", "session_id": row["session_id"], "shop_id": row["shop_id"], "sender_role": "human",
         "agent_id": row["last_agent_id"], "sent_at": started + timedelta(seconds=60), "msg_type": "text"},
    ]


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def land_days(landing: str) -> None:
    write_landing(landing, "shops", str(SATURDAY), [
        dict(shop_id=shop, shop_name=shop.upper(), platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai",
             opened_date=date(2025, 1, 1)) for shop in SHOPS
    ], landed_at=at(SATURDAY, 0))
    for day in (SATURDAY, SUNDAY, MONDAY):
        sessions = [session(shop, day, 1, 20) for shop in SHOPS]
        if day == SATURDAY:
            sessions += [session(shop, day, 2, -30) for shop in HELD]
        # A local day's files land at 20:00 UTC (04:00 the next day in Shanghai).
        write_landing(landing, "sessions", str(day), sessions, landed_at=at(day, 20))
        write_landing(landing, "messages", str(day), [m for s in sessions for m in messages(s)], landed_at=at(day, 20))


def unfinished(spark, settings) -> dict[tuple, tuple]:
    frame = spark.read.format("delta").load(settings.table_path("quality", "unfinished"))
    return {(r.stat_date, r.shop_id, r.metric): (r.settled_by, r.settlement) for r in frame.collect()}


def daily(spark, settings, day: date) -> dict[tuple, tuple]:
    frame = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily")).where(F.col("stat_date") == F.lit(day))
    return {(r.shop_id, r.metric): (r.value, r.maturity) for r in frame.where(F.col("segment") == "all").collect()}


def week(spark, settings, metric: str) -> dict[str, str]:
    frame = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_weekly"))
    rows = frame.where((F.col("week_start") == F.lit(WEEK)) & (F.col("metric") == metric) & (F.col("segment") == "all")).collect()
    return {r.shop_id: r.maturity for r in rows}


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory):
    place = Warehouse(tmp_path_factory.mktemp("held_back"))
    land_days(str(place.landing))
    return place


def test_a_held_back_shop_day_is_retried_until_it_passes_and_its_week_follows(spark, warehouse):
    with warehouse as settings:
        run_daily(SUNDAY, "daily__sunday", progress=quiet)
        # Sunday's run made Saturday final for a; b, c and d are held back, with nothing
        # published for Saturday, and wait to become final.
        saturday = daily(spark, settings, SATURDAY)
        assert saturday[("a", "pickup_rate")] == (1.0, "final")
        assert {shop for shop, _ in saturday} == {"a"}
        waiting = unfinished(spark, settings)
        assert {(shop, settled) for (day, shop, metric), (settled, _) in waiting.items() if metric == "avg_wait_seconds"} == {
            ("b", None), ("c", None), ("d", None)
        }
        assert {day for day, _, _ in waiting} == {SATURDAY}

        # c's data will not be fixed: an operator accepts it as it is.
        release(SATURDAY, "c", "release__c", progress=quiet)
        assert daily(spark, settings, SATURDAY)[("c", "avg_wait_seconds")] == (-5.0, "final")  # (20 - 30) / 2, accepted
        assert {v for (day, shop, _), v in unfinished(spark, settings).items() if shop == "c"} == {("release__c", "released")}

        # b's upstream re-sends the session with the right assignment time after Sunday's
        # cutoff (Monday 14:00 UTC): Monday's run retries Saturday for b and finalises it.
        fixed = session("b", SATURDAY, 2, 20, updated=local(f"{MONDAY} 12:00:00"))
        write_landing(str(warehouse.landing), "sessions", str(MONDAY), [fixed], name="part-fix", landed_at=at(MONDAY, 20))
        run_daily(MONDAY, "daily__monday", progress=quiet)
        saturday = daily(spark, settings, SATURDAY)
        assert saturday[("b", "avg_wait_seconds")] == (20.0, "final")
        assert saturday[("b", "pickup_rate")] == (1.0, "final")
        settled = {shop: {v for (_, s, _), v in unfinished(spark, settings).items() if s == shop} for shop in HELD}
        assert settled == {"b": {("daily__monday", "published")}, "c": {("release__c", "released")}, "d": {(None, None)}}
        assert "d" not in {shop for shop, _ in saturday}
        # Monday's run made Sunday final, the week's last day: the week is final for every shop
        # whose days all are, and stays provisional for d, whose Saturday is held back.
        assert week(spark, settings, "pickup_rate") == {"a": "final", "b": "final", "c": "final", "d": "provisional"}
        assert week(spark, settings, "avg_wait_seconds") == {"a": "final", "b": "final", "c": "final", "d": "provisional"}
