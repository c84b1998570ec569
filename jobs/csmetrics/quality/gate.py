"""Run a table's expectation suite with GX 1.x on Spark DataFrames; block on critical failures."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.quality.checks import CRITICAL, PER_SHOP_DAY, ROWS, Check
from csmetrics.schemas.gold import VALIDATION_RESULTS

class QualityGateError(RuntimeError):
    """A critical expectation failed: nothing was published."""


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: Check
    success: bool
    unexpected_count: int | None
    observed_value: object
    sample: list

    @property
    def name(self) -> str:
        return self.check.expectation.expectation_type

    def describe(self) -> str:
        kwargs = self.check.expectation.configuration.kwargs
        shown = {k: v for k, v in kwargs.items() if k in ("column", "column_list", "column_A", "column_B", "row_condition")}
        return (
            f"{self.table}: {self.name} {shown} failed"
            f"{f' for {self.unexpected_count:,d} rows' if self.unexpected_count else ''}"
            f"{f'; observed {self.observed_value}' if self.observed_value is not None else ''}"
            f"; sample {self.sample[:5]}"
        )


def views(rows: DataFrame) -> dict[str, DataFrame]:
    per_shop_day = (
        rows.groupBy("stat_date", "shop_id").pivot("metric", ["transfer_sessions", "received_sessions"]).agg(F.first("value"))
        .fillna(0.0, ["transfer_sessions", "received_sessions"])
    )
    return {ROWS: rows, PER_SHOP_DAY: per_shop_day}


def validate(table: str, rows: DataFrame, dates) -> list[CheckResult]:
    """Validate `rows` of `table` with the suite in expectations/<table>.py."""
    suite_module = importlib.import_module(f"csmetrics.expectations.{table}")
    checks: list[Check] = suite_module.expectations(dates)
    frames = views(rows)
    context = gx.get_context(mode="ephemeral")
    # Task logs get one summary line per gate, not a progress bar per metric.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_spark(name="csmetrics")
    results = []
    for view in (ROWS, PER_SHOP_DAY):
        view_checks = [c for c in checks if c.view == view]
        if not view_checks:
            continue
        frame = frames[view]
        for column in {c.cast_to_string for c in view_checks if c.cast_to_string}:
            frame = frame.withColumn(column, F.col(column).cast("string"))
        batch = source.add_dataframe_asset(name=f"{table}_{view}").add_batch_definition_whole_dataframe("batch")
        suite = context.suites.add(
            gx.ExpectationSuite(name=f"{table}_{view}", expectations=[c.expectation for c in view_checks])
        )
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=f"{table}_{view}", data=batch, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(name=f"{table}_{view}", validation_definitions=[definition]))
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for validation in outcome.run_results.values():
            for check, result in zip(view_checks, validation.results):
                details = result.result or {}
                results.append(
                    CheckResult(
                        table,
                        check,
                        bool(result.success),
                        details.get("unexpected_count"),
                        details.get("observed_value"),
                        details.get("partial_unexpected_list") or [],
                    )
                )
    return results


def record_results(spark: SparkSession, path: str, run_id: str, results: list[CheckResult]) -> None:
    now = datetime.now(timezone.utc)
    rows = [
        (
            run_id,
            r.table,
            r.name,
            json.dumps(r.check.expectation.configuration.kwargs, default=str),
            r.check.severity,
            r.success,
            r.unexpected_count,
            None if r.observed_value is None else json.dumps(r.observed_value, default=str),
            json.dumps(r.sample[:5], default=str),
            now,
        )
        for r in results
    ]
    spark.createDataFrame(rows, VALIDATION_RESULTS).write.format("delta").mode("append").option("userMetadata", run_id).save(path)


def raise_on_critical(results: list[CheckResult]) -> None:
    failed = [r for r in results if not r.success and r.check.severity == CRITICAL]
    if failed:
        raise QualityGateError(
            "Quality gate failed; nothing was published and the gold tables are unchanged.\n"
            + "\n".join(f"  - {r.describe()}" for r in failed)
            + "\nInspect the staged rows, fix the cause (input data or job), then re-run this date."
        )
