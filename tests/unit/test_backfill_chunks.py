"""A backfill's chunks: sized by the bytes each day landed against the driver's memory, or by
a fixed number of days, and planned over the days a resumed backfill has not finished."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest

from csmetrics.backfill import Chunk, chunks, chunks_by_volume, landed_bytes_by_day, memory_bytes, plan_chunks
from csmetrics.config import Settings
from csmetrics.plan import RunPlan


def day(n: int) -> date:
    return date(2026, 3, 1) + timedelta(days=n - 1)


def chunk(first: int, last: int) -> Chunk:
    return Chunk(day(first), day(last))


def test_a_chunk_takes_days_until_their_volume_would_pass_the_budget():
    volume = {day(1): 30, day(2): 30, day(3): 30, day(4): 30, day(5): 50, day(6): 120, day(7): 10}
    # 1-3 hold 90 (a fourth day would make 120); 4-5 hold 80; day 6 alone passes the budget
    # and is a chunk of its own; so is day 7, which would pass it beside day 6.
    assert chunks_by_volume(day(1), day(7), volume, budget=100) == [chunk(1, 3), chunk(4, 5), chunk(6, 6), chunk(7, 7)]


def test_a_small_platform_backfills_a_month_in_one_chunk():
    assert chunks_by_volume(day(1), day(40), {day(n): 1 for n in range(1, 41)}, budget=10**9) == [chunk(1, 31), chunk(32, 40)]


def test_fixed_chunks_hold_chunk_days_days():
    assert chunks(day(1), day(7), 3) == [chunk(1, 3), chunk(4, 6), chunk(7, 7)]
    with pytest.raises(ValueError, match="before its start"):
        chunks(day(2), day(1), 3)


@pytest.mark.parametrize(("text", "expected"), [("4g", 4 * 2**30), ("512m", 512 * 2**20), ("3G", 3 * 2**30), ("4096", 4 * 2**30), ("64k", 65536)])
def test_memory_settings_read_as_spark_writes_them(text, expected):
    assert memory_bytes(text) == expected


def test_a_memory_setting_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="not a memory size"):
        memory_bytes("four gigabytes")


def landed(landing, table: str, partition: str, name: str, size: int) -> None:
    path = landing / table / partition / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


@pytest.fixture
def landing(tmp_path):
    root = tmp_path / "landing"
    landed(root, "messages", "dt=2026-03-01", "a.parquet", 100)
    landed(root, "sessions", "dt=2026-03-01", "b.parquet", 50)
    landed(root, "messages", "dt=2026-03-02", "c.parquet", 70)
    landed(root, "orders", "dt=2026-03-03", "d.parquet", 300)
    # Not a day's volume: a file in flight, a snapshot table, a partition outside the range,
    # a folder outside the layout.
    landed(root, "messages", "dt=2026-03-02", "_c.parquet.part", 999)
    landed(root, "shops", "dt=2026-03-01", "e.parquet", 999)
    landed(root, "messages", "dt=2026-02-28", "f.parquet", 999)
    landed(root, "messages", "misc", "g.parquet", 999)
    return root


def test_a_days_volume_is_the_bytes_its_event_tables_landed_in_its_arrival_partition(landing):
    assert landed_bytes_by_day(str(landing), day(1), day(4)) == {day(1): 150, day(2): 70, day(3): 300}


def test_chunks_are_sized_by_the_landed_bytes_against_a_twenty_fifth_of_the_driver_memory(landing):
    # A twenty-fifth of 6k is 245 bytes: days 1 and 2 (220) fit, day 3 (300) is a chunk alone.
    settings = Settings(landing=str(landing), driver_memory="6k")
    assert plan_chunks(settings, day(1), day(5)) == [chunk(1, 2), chunk(3, 3), chunk(4, 5)]
    assert plan_chunks(settings, day(1), day(5), chunk_days=2) == [chunk(1, 2), chunk(3, 4), chunk(5, 5)]


def test_a_resumed_backfill_plans_only_the_days_not_finished(landing):
    settings = Settings(landing=str(landing), driver_memory="4g")
    finished = {day(1), day(2), day(5)}
    assert plan_chunks(settings, day(1), day(7), finished=finished) == [chunk(3, 4), chunk(6, 7)]
    assert plan_chunks(settings, day(1), day(7), chunk_days=1, finished=finished) == [chunk(3, 3), chunk(4, 4), chunk(6, 6), chunk(7, 7)]


def test_the_driver_memory_of_the_spark_settings_is_the_one_that_counts(landing):
    settings = Settings(landing=str(landing), driver_memory="4g", spark_conf={"spark.driver.memory": "6k"})
    assert plan_chunks(settings, day(1), day(5)) == [chunk(1, 2), chunk(3, 3), chunk(4, 5)]


@pytest.mark.parametrize(
    ("landing", "memory", "why"),
    [
        ("nosuch://bucket/landing", "4g", "Unrecognized filesystem type"),
        # A landing zone this process does not see lists as nothing: not a month in one chunk.
        ("{tmp_path}/elsewhere", "4g", "no event table under"),
        ("{tmp_path}", "four gigabytes", "not a memory size"),
    ],
)
def test_chunks_that_cannot_be_sized_by_the_data_hold_a_week_with_a_warning(tmp_path, caplog, landing, memory, why):
    settings = Settings(landing=landing.format(tmp_path=tmp_path), driver_memory=memory)
    (tmp_path / "messages").mkdir()
    with caplog.at_level(logging.WARNING, logger="csmetrics.backfill"):
        assert plan_chunks(settings, day(1), day(10)) == [chunk(1, 7), chunk(8, 10)]
    assert "Cannot size the chunks by the data" in caplog.text and why in caplog.text


@pytest.mark.parametrize(
    "end_plan, chunk_holds, calls",
    [
        # The end's daily run would keep nothing final and retry nothing: it joins the pass.
        (RunPlan(day(5)), False, [("bf__2026-03-04_2026-03-05", [day(4), day(5)])]),
        # The pass held back a shop-day: its days went one by one, but the end, whose daily
        # run then retries the hold, planned after them.
        (RunPlan(day(5)), True, [("bf__2026-03-04_2026-03-05", [day(4), day(5)]), ("bf__2026-03-05", day(5))]),
        # Its daily run retries an earlier hold: it runs as that run, after the other days.
        (RunPlan(day(5), retries=((day(1), "s1", "pickup_rate"),)), False, [("bf__2026-03-04", [day(4)]), ("bf__2026-03-05", day(5))]),
        (RunPlan(day(5), kept_final=frozenset({(day(4), "pickup_rate")})), False, [("bf__2026-03-04", [day(4)]), ("bf__2026-03-05", day(5))]),
    ],
)
def test_the_backfills_last_day_joins_its_chunks_pass_unless_its_daily_run_keeps_or_retries(monkeypatch, end_plan, chunk_holds, calls):
    import csmetrics.backfill as backfills

    made = []

    def publish_plan(spark, settings, plan, run_id, progress=None, part_run_id=None):
        made.append((run_id, [part.run_date for part in plan.parts] if plan.parts else plan.run_date))
        if plan.parts:
            assert [part_run_id(part) for part in plan.parts] == [f"bf__{part.run_date}" for part in plan.parts]
        else:
            assert plan is end_plan
        return None if chunk_holds and plan.parts else ("report", {})

    monkeypatch.setattr(backfills, "publish_plan", publish_plan)
    monkeypatch.setattr(backfills, "plan_run", lambda spark, settings, run_date, restate: end_plan)
    backfills.run_chunk(None, None, chunk(4, 5), day(5), False, "bf", lambda message: None)
    assert made == calls
    # Alone in its chunk, the end is simply its daily run: computed once, under its own run id.
    made.clear()
    backfills.run_chunk(None, None, chunk(5, 5), day(5), False, "bf", lambda message: None)
    assert made == [("bf__2026-03-05", day(5))]
