"""When the run for a date R starts, and what it sees (SPEC §1; docs/maturity.md "The clock").

The daily DAG's timetable gives each run an explicit data interval: the run for R has
logical date R and data interval [R 00:00, R + 1 00:00) UTC, and Airflow creates it when
that interval has ended. R has not ended everywhere by then: the run waits until `cutoff(R)`,
when R has ended in the westernmost timezone plus the ingestion grace period, and sees
exactly the files that had landed by that instant, whenever it actually runs.

Imported at DAG parse time: nothing here touches Spark.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

# The westernmost timezone (UTC-12) ends a local day this long after UTC midnight.
WESTERNMOST_DAY_END = timedelta(hours=12)
# SPEC §1: the ingestion grace period after the last timezone's midnight.
INGEST_GRACE = timedelta(hours=2)
# How long after the end of its data interval the run for R starts.
DAY_COMPLETE_AFTER = WESTERNMOST_DAY_END + INGEST_GRACE
# One data interval a day, midnight to midnight UTC.
DAILY_CRON = "0 0 * * *"


def cutoff(run_date: date) -> datetime:
    """The landing-time cutoff of the run for `run_date` (UTC): R + 1 at 14:00.

    R has then ended in every shop's timezone plus the grace period. The run sees the files
    that had landed by this instant, so a replay or a backfill sees what the daily run saw."""
    day_end = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC)
    return day_end + DAY_COMPLETE_AFTER


def first_run_after(moment: datetime) -> date:
    """The date of the first run whose cutoff is at or after `moment` (UTC)."""
    day_after_run = moment.astimezone(UTC).date()
    if moment > cutoff(day_after_run - timedelta(days=1)):
        day_after_run += timedelta(days=1)
    return day_after_run - timedelta(days=1)


# The run for each Sunday (ISO weekday 7) lists every arrival partition, whatever the lookback.
FULL_LISTING_WEEKDAY = 7


def first_partition_listed(run_date: date, lookback_days: int) -> date | None:
    """The oldest arrival partition the daily run for `run_date` lists (None: every one).

    Writers land each file in the partition of the UTC date it arrives, so a run finds its
    new files in the last days' partitions: it lists the partition of its cutoff's date and
    the `lookback_days` before it, and the time a run spends listing does not grow with the
    landing zone's history. A file landed in an older partition (against the layout's
    contract) is ingested by the run for the next Sunday, which lists every partition, as
    backfills and restatements do (docs/maturity.md). 0: every run lists every partition."""
    if lookback_days == 0 or run_date.isoweekday() == FULL_LISTING_WEEKDAY:
        return None
    return cutoff(run_date).date() - timedelta(days=lookback_days)


def daily_timetable():
    """Airflow's timetable for csmetrics_daily: daily data intervals in UTC.

    Explicit, not `schedule="@daily"`: under Airflow 3's default
    (`[scheduler] create_cron_data_intervals = False`) a cron string becomes a
    CronTriggerTimetable, whose run at R + 1 00:00 has logical date R + 1 and an empty
    data interval; the run would compute a day that has not started."""
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(DAILY_CRON, timezone="UTC")


def complete_after_template() -> str:
    """Jinja for the instant the run may start: the end of its data interval + 14 h."""
    seconds = int(DAY_COMPLETE_AFTER.total_seconds())
    return f"{{{{ (data_interval_end + macros.timedelta(seconds={seconds})).isoformat() }}}}"
