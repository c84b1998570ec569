"""Generated data with invalid records: a little is quarantined and published around,
too much stops the run with one message, and a bad gold value never reaches gold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from csmetrics import cli
from csmetrics.pipeline import compute_step, ingest_step, publish_step, run_daily, validate_bronze_step, validate_step
from csmetrics.quality.gate import OFFLINE_STYLES, QualityGateError, data_docs_index
from csmetrics.tables import staging_path
from csmetrics_generate import GenerateOptions, generate
from tests.integration.warehouses import Warehouse

D1 = date(2026, 3, 2)
quiet = lambda message: None  # noqa: E731


def gold_version(spark, settings) -> int:
    return DeltaTable.forPath(spark, settings.table_path("gold", "shop_metrics_daily")).history(1).first()["version"]


@pytest.fixture(scope="module")
def published(spark, tmp_path_factory):
    """Two generated days with 0.5 % invalid records; the first date run and published."""
    root = tmp_path_factory.mktemp("invalid_share")
    warehouse = Warehouse(root)
    with warehouse:
        generate(GenerateOptions(str(warehouse.landing), shops=6, days=2, start=D1, seed=3, invalid_share=0.005), quiet)
        messages = []
        run_daily(D1, "half-percent", progress=messages.append)
    return warehouse, messages


def test_half_a_percent_invalid_is_quarantined_reported_and_published(spark, published):
    warehouse, messages = published
    with warehouse as settings:
        report = "\n".join(messages)
        lines = report.splitlines()
        quarantined = spark.read.format("delta").load(settings.table_path("quarantine", "records"))
        assert quarantined.count() > 0
        # The ingest report names each table's quarantined count.
        for row in quarantined.groupBy("table").count().collect():
            assert any(line.startswith(row["table"]) and f"quarantined {row['count']:>8,d}" in line for line in lines), report
        assert "bronze gate: " in report and "gold gate: " in report
        assert spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily")).where(F.col("stat_date") == D1).count() > 0
        results = spark.read.format("delta").load(settings.table_path("quality", "validation_results"))
        assert {r.table for r in results.select("table").distinct().collect()} >= {"bronze/messages", "gold/shop_metrics_daily"}


def test_a_gold_value_forced_out_of_range_holds_back_only_its_shop(spark, published):
    warehouse, _ = published
    with warehouse as settings:
        gold_path = settings.table_path("gold", "shop_metrics_daily")
        before = {(r.stat_date, r.shop_id, r.metric, r.segment): r.run_id for r in spark.read.format("delta").load(gold_path).collect()}
        d2, run_id = D1 + timedelta(days=1), "forced-out-of-range"
        ingest_step(d2, run_id, quiet)
        validate_bronze_step(run_id, quiet)
        compute_step(d2, run_id, progress=quiet)
        staged = DeltaTable.forPath(spark, staging_path(settings, "shop_metrics_daily", run_id))
        staged.update("metric = 'pickup_rate' AND shop_id = 'shop0'", {"value": F.lit(1.5)})
        report = validate_step(d2, run_id, progress=quiet)
        assert "2 shop-day(s) held back" in report
        assert f"{D1} shop0: gold/shop_metrics_daily [rows]: expect_column_values_to_be_between" in report
        # The failed check ran in GX: Data Docs show it with its unexpected values.
        (page,) = data_docs_index(settings).parent.glob("validations/gold/shop_metrics_daily/rows/forced-out-of-range/*/*.html")
        assert "2 unexpected values found" in page.read_text()
        # The run's message links the Data Docs: the index, and the run's page (readable offline).
        assert f"Data Docs: {data_docs_index(settings).resolve().as_uri()}\n  - {page.resolve().as_uri()}" in report
        # Laid out without the CDNs GX links Bootstrap from: the offline styles are inlined.
        rule = ".col-md-10 { flex: 0 0 83.33%; max-width: 83.33%; box-sizing: border-box; padding: 0 15px; }"
        assert rule in OFFLINE_STYLES.read_text() and rule in page.read_text() and rule in data_docs_index(settings).read_text()
        publish_step(d2, run_id, progress=quiet)
        after = {(r.stat_date, r.shop_id, r.metric, r.segment): r.run_id for r in spark.read.format("delta").load(gold_path).collect()}
        # shop0 keeps what the run for D1 published; every other shop has this run's rows.
        assert {k: v for k, v in after.items() if k[1] == "shop0"} == {k: v for k, v in before.items() if k[1] == "shop0"}
        others = {v for k, v in after.items() if k[1] != "shop0" and k[0] in (D1, d2) and k[2] == "consult_sessions"}
        assert others == {run_id}


def test_a_duplicated_gold_key_stops_the_run_before_publication(spark, published):
    warehouse, _ = published
    with warehouse as settings:
        before = gold_version(spark, settings)
        d2, run_id = D1 + timedelta(days=1), "duplicated-key"
        compute_step(d2, run_id, progress=quiet)
        path = staging_path(settings, "shop_metrics_daily", run_id)
        staged = spark.read.format("delta").load(path)
        staged.where("metric = 'consult_sessions' AND shop_id = 'shop1'").write.format("delta").mode("append").save(path)
        with pytest.raises(QualityGateError) as failure:
            validate_step(d2, run_id, progress=quiet)
        message = str(failure.value)
        assert "gold/shop_metrics_daily [rows]: expect_compound_columns_to_be_unique" in message
        assert "'shop_id': 'shop1', 'metric': 'consult_sessions'" in message
        assert gold_version(spark, settings) == before


def test_five_percent_invalid_fails_with_one_message_and_gold_unchanged(spark, published, tmp_path, capsys):
    warehouse, _ = published
    with warehouse as settings:
        before = gold_version(spark, settings)
        # Later days of the same shops, generated with 5 % invalid records, land next.
        d4 = D1 + timedelta(days=2)
        generate(GenerateOptions(str(warehouse.landing), shops=6, days=1, start=d4, seed=4, invalid_share=0.05), quiet)
        assert cli.main(["run", "--date", str(d4)]) == 1
        err = capsys.readouterr().err
        failure = err[err.index("csmetrics: "):]
        assert "Traceback" not in err
        assert failure.startswith("csmetrics: Ingestion stopped: more than 1.0% of a table's records are invalid")
        assert "messages: " in failure and "Nothing was written to bronze or gold" in failure
        assert gold_version(spark, settings) == before
