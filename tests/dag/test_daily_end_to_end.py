"""Two consecutive dates through Airflow on generated data; gold checked against raw rows."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pendulum
import pyarrow.dataset as ds
import pytest
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics.generate import GenerateOptions, generate

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)


def landed(landing: str, table: str, up_to: date) -> pd.DataFrame:
    """Raw landed rows with arrival date <= up_to, read with pyarrow (not the pipeline)."""
    frame = ds.dataset(f"{landing}/{table}", format="parquet", partitioning="hive").to_table().to_pandas()
    return frame[pd.to_datetime(frame["dt"]).dt.date <= up_to]


def expected_session_counts(landing: str, stat_date: date, cutoff: date) -> pd.DataFrame:
    shops = landed(landing, "shops", cutoff).drop_duplicates("shop_id")[["shop_id", "timezone"]]
    sessions = landed(landing, "sessions", cutoff).sort_values("updated_at").drop_duplicates("session_id", keep="last")
    sessions = sessions.merge(shops, on="shop_id")
    sessions["local_date"] = [s.tz_convert(z).date() for s, z in zip(sessions["started_at"], sessions["timezone"])]
    day = sessions[(sessions["local_date"] == stat_date) & ~(sessions["is_internal"] | sessions["is_spam"])]
    messages = landed(landing, "messages", cutoff)
    human = messages[messages["sender_role"] == "human"][["session_id", "sent_at"]]
    transferred = day[day["transferred_to_human_at"].notna()]
    joined = transferred.merge(human, on="session_id")
    received_ids = set(joined.loc[joined["sent_at"] >= joined["transferred_to_human_at"], "session_id"])
    return pd.DataFrame(
        {
            "consult_sessions": day.groupby("shop_id").size(),
            "transfer_sessions": transferred.groupby("shop_id").size(),
            "received_sessions": transferred[transferred["session_id"].isin(received_ids)].groupby("shop_id").size(),
        }
    ).fillna(0)


def run(dagbag, day: date):
    dag_run = dagbag.get_dag("csmetrics_daily").test(logical_date=pendulum.datetime(day.year, day.month, day.day, tz="UTC"))
    assert dag_run.state == "success"


def gold(spark, settings, table="shop_metrics_daily"):
    frame = spark.read.format("delta").load(settings.table_path("gold", table)).drop("run_id", "computed_at")
    return sorted(tuple(r) for r in frame.collect())


@pytest.fixture(scope="module")
def two_days(spark, dagbag, tmp_path_factory):
    """Both dates run once through Airflow for the whole module (each run takes a while)."""
    root = tmp_path_factory.mktemp("two_days")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CSMETRICS_WAREHOUSE", str(root / "warehouse"))
        env.setenv("CSMETRICS_LANDING", str(root / "landing"))
        env.setenv("CSMETRICS_SHUFFLE_PARTITIONS", "2")
        settings = Settings.from_env()
        generate(GenerateOptions(settings.landing, shops=6, days=2, start=DAY1, seed=11))
        run(dagbag, DAY1)
        run(dagbag, DAY2)
        yield settings


def test_gold_matches_raw_rows_and_matures(spark, two_days, dagbag):
    settings = two_days
    rows = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
    day1 = {(r.shop_id, r.metric): r for r in rows.where(F.col("stat_date") == DAY1).collect()}
    # The run for DAY2 saw arrivals up to DAY2 + 1 and wrote DAY1 as final.
    expected = expected_session_counts(settings.landing, DAY1, DAY2 + timedelta(days=1))
    assert len(expected) == 6
    for shop_id, counts in expected.iterrows():
        for metric in ("consult_sessions", "transfer_sessions", "received_sessions"):
            if counts[metric] > 0:
                assert day1[(shop_id, metric)].value == counts[metric], (shop_id, metric)
                assert day1[(shop_id, metric)].maturity == "final"
            else:
                assert (shop_id, metric) not in day1
        pickup = day1[(shop_id, "pickup_rate")]
        assert (pickup.numerator, pickup.denominator) == (counts["received_sessions"], counts["transfer_sessions"])
        assert pickup.value == pytest.approx(counts["received_sessions"] / counts["transfer_sessions"])
    day2 = rows.where(F.col("stat_date") == DAY2).select("maturity").distinct().collect()
    assert [r.maturity for r in day2] == ["provisional"]
    # Delta history says which run wrote what.
    history = spark.sql(f"DESCRIBE HISTORY delta.`{settings.table_path('gold', 'shop_metrics_daily')}`")
    assert history.where(F.col("userMetadata").startswith("manual__")).count() >= 2


def test_rerunning_a_date_leaves_gold_unchanged(spark, two_days, dagbag):
    before = {t: gold(spark, two_days, t) for t in ("shop_metrics_daily", "agent_metrics_daily")}
    run(dagbag, DAY2)
    after = {t: gold(spark, two_days, t) for t in ("shop_metrics_daily", "agent_metrics_daily")}
    assert before == after
    assert len(before["shop_metrics_daily"]) > 100
