"""Run a suite of checks (GX 1.x expectations) on Spark DataFrames, keep the results, block on
critical failures.

Pass or fail comes from one Spark aggregation per view, a gate's views in one job
(quality/native.py); failed checks run in GX, whose project lives at `Settings.gx_project` (a
file context): their results, with counts and failing keys, are kept there and rendered into
Data Docs at `data_docs_index(settings)`.
Every result, passed or failed, goes to the quality/validation_results Delta table.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics.quality import native
from csmetrics.quality.checks import CRITICAL, ROWS, SHOP_DAY, TABLE, VIEW_KEYS, Check
from csmetrics.quality.violations import violation
from csmetrics.schemas.gold import VALIDATION_RESULTS as VALIDATION_RESULTS_SCHEMA
from csmetrics.tables import VALIDATION_RESULTS

SAMPLE_SIZE = 5


class QualityGateError(RuntimeError):
    """A table-level critical expectation failed: nothing was published."""


@dataclass(frozen=True)
class CheckResult:
    table: str
    check: Check
    success: bool
    unexpected_count: int | None
    observed_value: object
    # Keys of failing rows where GX can name them, else failing values.
    sample: list

    @property
    def name(self) -> str:
        return self.check.expectation.expectation_type

    @property
    def holds_back(self) -> bool:
        """A critical failure that holds back only the failing shop-days."""
        return not self.success and self.check.severity == CRITICAL and self.check.scope == SHOP_DAY

    def rule(self) -> str:
        kwargs = self.check.expectation.configuration.kwargs
        shown = {k: v for k, v in kwargs.items() if k in ("column", "column_list", "column_A", "column_B", "row_condition")}
        return f"{self.table} [{self.check.view}]: {self.name} {shown}"

    def describe(self) -> str:
        return (
            f"{self.rule()} failed"
            f"{f' for {self.unexpected_count:,d} rows' if self.unexpected_count else ''}"
            f"{f'; observed {self.observed_value}' if self.observed_value is not None else ''}"
            f"; sample {self.sample[:SAMPLE_SIZE]}"
        )


OFFLINE_STYLES = Path(__file__).with_name("data_docs_offline.css")


def data_docs_index(settings: Settings) -> Path:
    return Path(settings.gx_project) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def open_context(settings: Settings):
    context = gx.get_context(mode="file", project_root_dir=settings.gx_project)
    # Task logs get one summary line per gate, not a progress bar per metric.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    _install_offline_styles(Path(context.plugins_directory))
    return context


def _install_offline_styles(plugins: Path) -> None:
    """GX inlines `custom_data_docs/styles/data_docs_custom_styles.css` into every Data Docs
    page: ours lays pages out without the Bootstrap that GX fetches from CDNs, so the docs
    read well offline (bin/data-docs-screenshot shows one)."""
    target = plugins / "custom_data_docs" / "styles" / "data_docs_custom_styles.css"
    styles = OFFLINE_STYLES.read_text()
    if not target.exists() or target.read_text() != styles:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(styles)


class GxProject:
    """The GX project of a gate, opened the first time a check must run in GX."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._context = None

    @property
    def context(self):
        if self._context is None:
            self._context = open_context(self.settings)
        return self._context

    @property
    def used(self) -> bool:
        return self._context is not None


@dataclass(frozen=True)
class TableChecks:
    """A table's checks and the views they read: one of the tables a gate validates."""

    table: str
    frames: dict[str, DataFrame]
    checks: list[Check]
    keys: list[str]


def validate(
    project: GxProject, table: str, frames: dict[str, DataFrame], checks: list[Check], keys: list[str], run_id: str
) -> list[CheckResult]:
    """Validate each view of `table` in `frames` with the checks that read it (`validate_tables`)."""
    return validate_tables(project, [TableChecks(table, frames, checks, keys)], run_id)


def validate_tables(project: GxProject, tables: list[TableChecks], run_id: str) -> list[CheckResult]:
    """Validate each view of each table with the checks that read it.

    Pass or fail comes from one Spark aggregation per view, every view of the gate in one job
    (quality/native.py). Only the checks that failed, and any GX answers alone, run as a GX
    checkpoint, with counts and sample keys; their results are stored in the GX project and
    shown in Data Docs, which are built once per gate (`build_data_docs`)."""
    views = []  # (table, view name, frame as checked, its checks)
    for table in tables:
        for view, frame in table.frames.items():
            view_checks = [c for c in table.checks if c.view == view]
            if not view_checks:
                continue
            for column in {c.cast_to_string for c in view_checks if c.cast_to_string}:
                frame = frame.withColumn(column, F.col(column).cast("string"))
            views.append((table, view, frame, view_checks))
    natively = [[c for c in view_checks if native.supports(c.expectation)] for *_, view_checks in views]
    answers = native.evaluate_views([(frame, [c.expectation for c in checks]) for (_, _, frame, _), checks in zip(views, natively)])
    results = []
    for (table, view, frame, view_checks), native_checks, answer in zip(views, natively, answers):
        outcome = dict(zip(map(id, native_checks), answer))
        in_gx = [c for c in view_checks if id(c) not in outcome or not outcome[id(c)].success]
        if in_gx:
            index_columns = table.keys if view == ROWS else VIEW_KEYS[view]
            summary_format = {"result_format": "SUMMARY", "unexpected_index_column_names": index_columns}
            name = f"{table.table.replace('/', '.')}.{view}"
            outcome |= run_in_gx(project.context, name, frame, in_gx, summary_format, run_id)
        for check in view_checks:
            found = outcome[id(check)]
            results.append(CheckResult(table.table, check, found.success, found.unexpected_count, found.observed_value, list(found.sample)))
    return results


def run_in_gx(context, name: str, frame: DataFrame, checks: list[Check], result_format: dict, run_id: str) -> dict:
    """Run `checks` on `frame` as the checkpoint `name`; GX's outcome of each, keyed by id(check)."""
    # GX would persist each frame it validates, and never release it: the gates' frames are
    # small derived views or rows the slice transaction already materialized.
    source = context.data_sources.add_or_update_spark(name="csmetrics", persist=False)
    batch = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("batch")
    # Each suite gets its own copies (a suite gives its expectations their ids).
    copies = [check.expectation.copy(deep=True, update={"id": None}) for check in checks]
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=copies))
    definition = context.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=name, validation_definitions=[definition], result_format=result_format)
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=gx.RunIdentifier(run_name=run_id))
    # GX orders results its own way; the suite gave each copy an id.
    check_of = {copy.id: check for copy, check in zip(copies, checks)}
    return {
        id(check_of[result.expectation_config.id]): _outcome(result)
        for validation in outcome.run_results.values()
        for result in validation.results
    }


def _outcome(result) -> native.Outcome:
    details = result.result or {}
    sample = details.get("partial_unexpected_index_list") or details.get("partial_unexpected_list") or []
    return native.Outcome(bool(result.success), details.get("unexpected_count"), details.get("observed_value"), sample)


def record_results(spark: SparkSession, settings: Settings, run_id: str, results: list[CheckResult]) -> None:
    """Append every result to the quality/validation_results Delta table."""
    now = datetime.now(UTC)
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
            json.dumps(r.sample[:SAMPLE_SIZE], default=str),
            now,
        )
        for r in results
    ]
    path = VALIDATION_RESULTS.path(settings)
    spark.createDataFrame(rows, VALIDATION_RESULTS_SCHEMA).write.format("delta").mode("append").option("userMetadata", run_id).save(path)


def held_back_shop_days(frames: dict[str, DataFrame], results: list[CheckResult]) -> DataFrame | None:
    """(stat_date, shop_id, reason) of every shop-day with a row failing a SHOP_DAY check.

    `frames` maps each view to the frame that was validated; the failing rows are found
    again with the expectation's own predicate, in Spark."""
    held = [
        frames[r.check.view]
        .where(violation(r.check.expectation))
        .select("stat_date", "shop_id", F.lit(r.rule()).alias("reason"))
        for r in results
        if r.holds_back
    ]
    if not held:
        return None
    union = held[0]
    for frame in held[1:]:
        union = union.unionByName(frame)
    return union.groupBy("stat_date", "shop_id").agg(F.array_join(F.sort_array(F.collect_set("reason")), "; ").alias("reason"))


def build_data_docs(project: GxProject) -> None:
    """Render the stored results into Data Docs (data_docs_index), when the gate ran GX."""
    if project.used:
        project.context.build_data_docs()


PUBLISH_STOPPED = "Quality gate failed; nothing was published and the gold tables are unchanged."


def raise_on_critical(results: list[CheckResult], what_to_do: str, headline: str = PUBLISH_STOPPED) -> None:
    """Fail on a critical failure that blocks the table (SHOP_DAY failures hold back rows instead)."""
    failed = [r for r in results if not r.success and r.check.severity == CRITICAL and r.check.scope == TABLE]
    if failed:
        raise QualityGateError(
            f"{headline}\n"
            + "\n".join(f"  - {r.describe()}" for r in failed)
            + f"\n{what_to_do}"
        )


def summary(results: list[CheckResult], docs: Path | None = None, run_id: str | None = None) -> str:
    """One line when every check passed; else the warnings, and where Data Docs show them."""
    warnings = [r for r in results if not r.success and not r.holds_back]
    text = f"{len(results)} checks passed" if not warnings else f"{len(results) - len(warnings)} of {len(results)} checks passed"
    if warnings:
        text += "; warnings recorded:\n" + "\n".join(f"  - {r.describe()}" for r in warnings)
        text += docs_line(docs, run_id)
    return text


def docs_line(docs: Path | None, run_id: str | None = None) -> str:
    """Links to the Data Docs that show a gate's failed checks (empty when none were built):
    the index, then the run's own validation pages, which read offline (the index's list is
    drawn by JavaScript from CDNs)."""
    if docs is None or not docs.exists():
        return ""
    pages = sorted(docs.parent.glob(f"validations/**/{glob.escape(run_id)}/*/*.html")) if run_id else []
    return f"\nData Docs: {docs.resolve().as_uri()}" + "".join(f"\n  - {page.resolve().as_uri()}" for page in pages[:SAMPLE_SIZE])
