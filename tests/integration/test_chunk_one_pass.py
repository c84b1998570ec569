"""A backfill chunk's days in one pass (csmetrics.chunk): each day as of its own cutoff."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.sql import functions as F

from csmetrics.chunk import chunk_tables, day_of, day_rows, with_day, without_day
from csmetrics.compute import Persisted, computed_tables
from csmetrics.ingest.run import ingest
from csmetrics.plan import RunPlan
from tests.integration.landing_files import write_landing

# The chunk's days: 03-03 owns the conversation metrics of 03-02 (cutoff 03-04 14:00),
# 03-04 those of 03-03 (cutoff 03-05 14:00). The backfill ends later.
FIRST, SECOND, END = date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 10)


def utc(day, hour):
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def session(session_id, shop, started, updated=None, spam=False):
    return dict(session_id=session_id, shop_id=shop, buyer_id="b1", started_at=started, ended_at=None,
                transferred_to_human_at=None, queue_entered_at=None, assigned_at=None, last_agent_id=None,
                is_internal=False, is_spam=spam, scene_l1=None, scene_l2=None, scene_l3=None, updated_at=updated or started)


@pytest.fixture
def landed(spark, settings):
    write_landing(settings.landing, "shops", "2026-03-01", [
        dict(shop_id=shop, shop_name=shop, platform="tmall", category="food", tier="L1", timezone="UTC", opened_date=date(2025, 1, 1))
        for shop in ("s1", "s'2")
    ])
    write_landing(settings.landing, "sessions", "2026-03-03", [session("a", "s1", utc(2, 10))], name="a", landed_at=utc(3, 12))
    # Both land after the first day's cutoff: that day's run never saw them.
    write_landing(settings.landing, "sessions", "2026-03-04", [session("late", "s1", utc(2, 11))], name="late", landed_at=utc(4, 20))
    write_landing(settings.landing, "sessions", "2026-03-04", [session("a", "s1", utc(2, 10), utc(4, 19), spam=True)], name="a2", landed_at=utc(4, 20))
    write_landing(settings.landing, "sessions", "2026-03-04", [session("b", "s'2", utc(3, 9))], name="b", landed_at=utc(4, 12))
    # "c" lands on time, then a newer version marks it spam before the second day's cutoff,
    # and a newer one again unmarks it after the chunk's last cutoff.
    write_landing(settings.landing, "sessions", "2026-03-03", [session("c", "s'2", utc(3, 8))], name="c1", landed_at=utc(3, 20))
    write_landing(settings.landing, "sessions", "2026-03-05", [session("c", "s'2", utc(3, 8), utc(5, 9), spam=True)], name="c2", landed_at=utc(5, 10))
    write_landing(settings.landing, "sessions", "2026-03-06", [session("c", "s'2", utc(3, 8), utc(6, 9))], name="c3", landed_at=utc(6, 10))
    # A session of 03-05, the day a backfill ending then leaves provisional.
    write_landing(settings.landing, "sessions", "2026-03-05", [session("d", "s1", utc(5, 9))], name="d", landed_at=utc(5, 12))
    # A rating of 03-03 whose session started on 02-28: the second day's satisfaction reads
    # sessions from 03-01 only, so it does not count; another of its families reads further back.
    february_28 = datetime(2026, 2, 28, 12, tzinfo=UTC)
    write_landing(settings.landing, "sessions", "2026-02-28", [session("old", "s1", february_28)], name="old", landed_at=february_28)
    write_landing(settings.landing, "ratings", "2026-03-03", [dict(
        rating_id="r-old", session_id="old", shop_id="s1", buyer_id="b1", target="human", invited_at=utc(3, 10), rated_at=utc(3, 11), score=5, tags=[],
    )], name="r-old", landed_at=utc(3, 12))
    ingest(spark, settings, "prepare", landed_by=None)


def values(frame, metric):
    rows = frame.where((F.col("metric") == metric) & (F.col("segment") == "all")).select("stat_date", "shop_id", "value")
    return sorted(tuple(r) for r in rows.collect())


def comparable(frame):
    return sorted(tuple(r) for r in frame.drop("run_id", "computed_at").collect())


def test_each_day_of_a_chunk_sees_bronze_as_of_its_own_cutoff_in_one_pass(spark, settings, landed):
    chunk = RunPlan.backfill_days([FIRST, SECOND], END)
    held = Persisted()
    try:
        tables = chunk_tables(spark, settings, chunk, "chunk", held)
        shop = tables["shop_metrics_daily"]
        # 03-02: "late" and "a"'s spam version had not landed by the first day's cutoff. 03-03: "c" was spam as of
        # the second day's cutoff; its later version had not landed.
        assert values(shop, "consult_sessions") == [(date(2026, 3, 2), "s1", 1.0), (date(2026, 3, 3), "s'2", 1.0)]
        assert values(shop, "filtered_sessions") == [(date(2026, 3, 3), "s'2", 1.0)]
        assert values(shop, "satisfaction_rate") == []
        detail = tables["session_detail_daily"]
        assert sorted(tuple(r) for r in detail.select("stat_date", "shop_id", "session_id").collect()) == [
            (date(2026, 3, 2), "s1", "a"), (date(2026, 3, 3), "s'2", "b"), (date(2026, 3, 3), "s'2", "c"),
        ]
        # Every table holds, day by day, exactly the rows of that day computed on its own.
        for part in chunk.parts:
            own = day_rows(tables, part)
            alone = computed_tables(spark, settings, part, "day", held)
            for name, frame in alone.items():
                assert comparable(own[name]) == comparable(frame), (part.run_date, name)
    finally:
        held.release()


def test_the_backfills_end_joins_the_pass_with_every_slice_its_daily_run_owns(spark, settings, landed):
    end = date(2026, 3, 5)
    chunk = RunPlan.backfill_days([SECOND, end], end)
    held = Persisted()
    try:
        tables = chunk_tables(spark, settings, chunk, "chunk", held)
        shop = tables["shop_metrics_daily"].where((F.col("metric") == "consult_sessions") & (F.col("segment") == "all"))
        # 03-03 is the second day's, final, as of its cutoff ("c" spam then); 03-05 the end's,
        # provisional at its own run.
        assert sorted(tuple(r) for r in shop.select("stat_date", "shop_id", "value", "maturity").collect()) == [
            (date(2026, 3, 3), "s'2", 1.0, "final"), (date(2026, 3, 5), "s1", 1.0, "provisional"),
        ]
        for part in chunk.parts:
            own = day_rows(tables, part)
            alone = computed_tables(spark, settings, part, "day", held)
            for name, frame in alone.items():
                assert comparable(own[name]) == comparable(frame), (part.run_date, name)
    finally:
        held.release()


def test_a_days_ids_carry_it_and_lose_it_whole(spark):
    ids = ["s1", "s1\x01", "s1\x1f7", "shop 7", "店铺-3", "s'2", "x_12"]
    frame = spark.createDataFrame([(i, shop, f"sess-{shop}", None) for i, shop in enumerate(ids)], "n int, shop_id string, session_id string, order_id string")
    marked = with_day(frame, F.col("n") + 10)
    rows = marked.select("n", day_of("shop_id").alias("day"), "shop_id").collect()
    assert [r.day for r in rows] == [r.n + 10 for r in rows]
    assert all(r.shop_id != ids[r.n] for r in rows)
    back = without_day(marked).orderBy("n").collect()
    assert [(r.shop_id, r.session_id, r.order_id) for r in back] == [(shop, f"sess-{shop}", None) for shop in ids]
    # Within a day, ids keep their order.
    same_day = with_day(frame, F.lit(3)).orderBy("shop_id").collect()
    assert [r.n for r in same_day] == [r.n for r in frame.orderBy("shop_id").collect()]
