"""The derived gate: the experience score and the alerts validated before their MERGEs.

Gold's rows passed the gold gate before they were published. What derive computes from
them obeys rules that hold for any input (points are a share of peers, an alert lies beyond
its threshold), so only a fault of the job can break one: every check is critical for the
whole table. A failure stops derive before that table's MERGE, and the table keeps the rows
it had; the tables written before it stay written, as after any failed derive, and a re-run
of the date derives them all again.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession

from csmetrics import registry
from csmetrics.config import Settings
from csmetrics.derived import experience
from csmetrics.expectations import experience_score_daily, metric_alerts_daily
from csmetrics.quality.checks import ROWS
from csmetrics.quality.gate import (
    CheckResult,
    GxProject,
    TableChecks,
    build_data_docs,
    data_docs_index,
    raise_on_critical,
    record_results,
    validate_tables,
)

GATED = (experience_score_daily, metric_alerts_daily)

WHAT_TO_DO = (
    "{table} keeps the rows it had. Its rows break a rule that holds for any input, so the fault is the job's, "
    "not the data's: report it with the failing keys shown in Data Docs at {docs}; a re-run of the date derives again."
)


class DerivedGate:
    """The checks of the derived tables of one derive, and every result they gave."""

    def __init__(self, spark: SparkSession, settings: Settings, run_id: str, governed: list[str]):
        self._spark, self._settings, self._run_id = spark, settings, run_id
        self._project = GxProject(settings)
        indicators = experience.parse_indicators(settings.experience_indicators or experience.DEFAULT_INDICATORS)
        alerted = [*governed, experience.LEADERBOARD_METRIC]
        self._suites = {
            "experience_score_daily": lambda dates: experience_score_daily.expectations(dates, [i.metric for i in indicators]),
            "metric_alerts_daily": lambda dates: metric_alerts_daily.expectations(
                dates, alerted, [m for m in governed if registry.BY_ID[m].direction == registry.LOWER],
                settings.alert_z, settings.alert_critical_z,
            ),
        }
        self._keys = {suite.__name__.rsplit(".", 1)[-1]: suite.KEYS for suite in GATED}
        self.results: list[CheckResult] = []

    def gates(self, table: str) -> bool:
        return table in self._suites

    def check(self, table: str, rows: DataFrame, dates: list[date]) -> None:
        """Validate `rows`, the rows of `dates` about to be merged into `table`; stop derive on
        a failed check, with every result recorded."""
        checks = TableChecks(f"gold/{table}", {ROWS: rows}, self._suites[table](dates), self._keys[table])
        results = validate_tables(self._project, [checks], self._run_id)
        self.results += results
        if not all(r.success for r in results):
            self.record()
            build_data_docs(self._project)
            docs = data_docs_index(self._settings).resolve().as_uri()
            raise_on_critical(results, WHAT_TO_DO.format(table=f"gold/{table}", docs=docs), headline=f"The derived gate stopped derive before gold/{table}.")

    def record(self) -> None:
        """Append the results so far to quality/validation_results (one commit)."""
        if self.results:
            record_results(self._spark, self._settings, self._run_id, self.results)
            self.results = []
