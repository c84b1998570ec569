"""csmetrics_daily run by Airflow's own scheduler, as a deployment runs it.

A real scheduler, DAG processor and API server (LocalExecutor, the embedded SQLite
database) run `airflow backfill create` for two past dates, both runs at once (the backfill's
--max-active-runs 2): the dates come from the DAG's timetable, not from a test, and the DAG
itself must keep the two runs from ingesting a file twice or colliding on a publish. The module then checks what each run computed against the raw
landed files (read with pyarrow, not the pipeline), its final rows against the DuckDB reference
(bench/reference/check_gold.py), and that the chunked backfill DAG's re-run of the dates changes nothing.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pendulum
import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.airflow_db import SQLITE_AIRFLOW_ENV
from csmetrics.assets import DERIVED, PUBLISHED
from csmetrics.schedule import cutoff
from csmetrics_generate import GenerateOptions, generate
from tests.dag.conftest import DAGS
from tests.integration.warehouses import same_rows

ROOT = Path(__file__).resolve().parents[2]
DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
UTC = UTC
# Two runs of two tasks, each a process (the run's task with its own Spark driver).
# (Two dates of six shops take a few minutes on 2 cores.)
RUNS_TIMEOUT_S = 1800
quiet = lambda message: None  # noqa: E731


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Airflow:
    """An Airflow deployment in its own home: scheduler, DAG processor, API server."""

    def __init__(self, home: Path, csmetrics_env: dict[str, str]):
        port = free_port()
        self.home = home
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CSMETRICS_"))},
            **csmetrics_env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # Scheduler and API server must sign and check task tokens with the same key.
            "AIRFLOW__API_AUTH__JWT_SECRET": "csmetrics-scheduler-test",
            # Only the backfill's runs: no scheduled run of today's interval beside them.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # INFO, as a deployment logs: task logs must show progress and no library chatter.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Scheduler, DAG processor, API server and CLI share one SQLite file: wait for its lock.
            **SQLITE_AIRFLOW_ENV,
        }
        self.port = port
        self.processes: list[subprocess.Popen] = []
        self.logs: dict[int, Path] = {}

    def cli(self, *args: str, attempts: int = 3) -> str:
        """Run an `airflow` command against this deployment. Against SQLite, a command that
        writes can still fail at once with "database is locked" (infra/README.md): the CI saw
        `backfill create` fail so within seconds, while the DAG processor and the scheduler
        were starting. An operator runs it again; so does this."""
        for attempt in range(1, attempts + 1):
            done = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True)
            if done.returncode == 0 or "database is locked" not in done.stderr or attempt == attempts:
                break
            warnings.warn(f"airflow {' '.join(args)}: database is locked (attempt {attempt}); running it again", stacklevel=2)
            time.sleep(5)
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self) -> None:
        self.cli("db", "migrate")
        for command in (["api-server", "--port", str(self.port)], ["dag-processor"], ["scheduler"]):
            self.launch(command, self.home / f"{command[0]}.log")

    def launch(self, command: list[str], log: Path) -> None:
        with open(log, "w") as output:
            process = subprocess.Popen([sys.executable, "-m", "airflow", *command], env=self.env, stdout=output, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.logs[process.pid] = log

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            self.wait_for_exit(process)

    def wait_for_exit(self, process: subprocess.Popen, grace_s: int = 60) -> None:
        """Wait for a terminated process; signal it again, then kill it, if it outlives `grace_s`.

        A scheduler's LocalExecutor waits on SIGTERM until its workers are done, and "signal
        again if you don't want to wait": on a loaded 2-core CI machine that wait once outlived
        a minute with every run of the DAGs already finished. How the scheduler stops is not
        what these tests test; a warning keeps the log's tail for whoever looks into it.
        """
        try:
            process.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            tail = self.logs[process.pid].read_text().splitlines()[-15:]
            warnings.warn(f"{' '.join(process.args[2:])} still running {grace_s} s after SIGTERM; its log ends:\n" + "\n".join(tail), stacklevel=2)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs as `airflow dags list-runs` reports them (log lines may precede the JSON)."""
        lines = [line for line in self.cli("dags", "list-runs", dag_id, "-o", "json").splitlines() if line.startswith("[")]
        return json.loads(lines[-1]) if lines else []

    def query(self, sql: str, *args) -> list[tuple]:
        """Read the metadata database directly: a poll through the CLI starts a Python that
        imports Airflow (about 2 CPU-seconds), which the tasks' Spark drivers need more."""
        with closing(sqlite3.connect(f"file:{self.home / 'airflow.db'}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(sql, args).fetchall()

    def wait_for_dag(self, dag_id: str, timeout_s: int = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.query("SELECT 1 FROM dag WHERE dag_id = ?", dag_id):
            assert time.monotonic() < deadline, f"{dag_id} was never parsed; see {self.home}/dag-processor.log"
            time.sleep(2)

    def restart_scheduler(self, **settings: str) -> None:
        scheduler = self.processes.pop()
        scheduler.terminate()
        self.wait_for_exit(scheduler)
        self.env.update(settings)
        self.launch(["scheduler"], self.home / "scheduler-restarted.log")

    def schedule_runs(self) -> None:
        """Let the scheduler create scheduled and asset-triggered runs (off while the backfill ran)."""
        if self.env.get("AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE") != "True":
            self.restart_scheduler(AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="True")

    def task_states(self, dag_id: str) -> dict[tuple[str, int], str]:
        rows = self.query("SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ?", dag_id)
        return {(task_id, map_index): state for task_id, map_index, state in rows}

    def asset_events_from(self, dag_id: str) -> list[str]:
        """Names of the assets the DAG's tasks updated, one per event."""
        return [
            name
            for (name,) in self.query(
                "SELECT asset.name FROM asset_event JOIN asset ON asset.id = asset_event.asset_id WHERE asset_event.source_dag_id = ?",
                dag_id,
            )
        ]

    def wait_for_asset_triggered_runs(self, dag_id: str, timeout_s: int = 240) -> None:
        """Until the DAG has run for every asset event queued for it."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = [state for (state,) in self.query("SELECT state FROM dag_run WHERE dag_id = ?", dag_id)]
            queued = self.query("SELECT 1 FROM asset_dag_run_queue WHERE target_dag_id = ?", dag_id)
            if states and not queued and all(state in ("success", "failed") for state in states):
                return
            assert time.monotonic() < deadline, f"{dag_id}: runs {states}, {len(queued)} queued; logs in {self.home}"
            time.sleep(3)

    def wait_for_runs(self, dag_id: str, count: int, timeout_s: int) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            states = [state for (state,) in self.query("SELECT state FROM dag_run WHERE dag_id = ?", dag_id)]
            if len(states) == count and all(state in ("success", "failed") for state in states):
                return
            assert time.monotonic() < deadline, f"runs not finished: {states}; logs in {self.home}"
            time.sleep(3)


def landed_by(landing: str, table: str, moment: datetime) -> pd.DataFrame:
    """Raw rows of the files that had landed (modification time) by `moment`, read with pyarrow."""
    frames = [
        pq.read_table(path).to_pandas()
        for path in sorted(Path(landing, table).glob("dt=*/*.parquet"))
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) <= moment
    ]
    return pd.concat(frames, ignore_index=True)


def expected_session_counts(landing: str, stat_date: date, seen_by: datetime) -> pd.DataFrame:
    shops = landed_by(landing, "shops", seen_by).drop_duplicates("shop_id")[["shop_id", "timezone"]]
    sessions = landed_by(landing, "sessions", seen_by).sort_values("updated_at").drop_duplicates("session_id", keep="last")
    sessions = sessions.merge(shops, on="shop_id")
    sessions["local_date"] = [s.tz_convert(z).date() for s, z in zip(sessions["started_at"], sessions["timezone"])]
    day = sessions[(sessions["local_date"] == stat_date) & ~(sessions["is_internal"] | sessions["is_spam"])]
    messages = landed_by(landing, "messages", seen_by).drop_duplicates("message_id")
    # A human reply: an agent's message that is not its configured auto-reply (SPEC §3).
    human = messages[(messages["sender_role"] == "human") & (messages["msg_type"] != "auto_reply")][["session_id", "sent_at"]]
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


def gold(spark, warehouse: str, table: str) -> list[tuple]:
    frame = spark.read.format("delta").load(f"{warehouse}/gold/{table}").drop("run_id", "computed_at")
    return sorted(tuple(r) for r in frame.collect())


@pytest.fixture(scope="module")
def scheduled(spark, tmp_path_factory):
    """Generated data; the two dates backfilled by Airflow's scheduler."""
    root = tmp_path_factory.mktemp("scheduled")
    landing = root / "landing"
    generate(GenerateOptions(str(landing), shops=6, days=3, start=DAY1, seed=11), quiet)
    csmetrics_env = {
        "CSMETRICS_WAREHOUSE": str(root / "warehouse"),
        "CSMETRICS_LANDING": str(landing),
        "CSMETRICS_SHUFFLE_PARTITIONS": "2",
        "CSMETRICS_DRIVER_MEMORY": "1g",
        "CSMETRICS_EXPORT_DIR": str(root / "exports"),
        "CSMETRICS_LOG_FILE": str(root / "csmetrics.log"),
        # The suite's Spark settings for tiny days (tests/conftest.py).
        "CSMETRICS_SPARK_CONF": os.environ["CSMETRICS_SPARK_CONF"],
    }
    (root / "airflow").mkdir()
    airflow = Airflow(root / "airflow", csmetrics_env)
    airflow.start()
    try:
        for dag_id in ("csmetrics_daily", "csmetrics_leaderboard_export", "csmetrics_alert_notify"):
            airflow.wait_for_dag(dag_id)
            airflow.cli("dags", "unpause", dag_id)
        airflow.cli(
            "backfill", "create", "--dag-id", "csmetrics_daily",
            "--from-date", str(DAY1), "--to-date", str(DAY2), "--max-active-runs", "2",
        )
        airflow.wait_for_runs("csmetrics_daily", 2, RUNS_TIMEOUT_S)
        runs = airflow.runs("csmetrics_daily")
    except BaseException:
        airflow.stop()
        raise
    # Airflow keeps running for the consumer DAG's test; stopped after the module.
    yield {"root": root, "landing": str(landing), "warehouse": str(root / "warehouse"), "exports": root / "exports", "runs": runs, "airflow": airflow}
    airflow.stop()


def test_the_scheduler_runs_each_date_on_its_own_data_interval(scheduled):
    runs = sorted(scheduled["runs"], key=lambda r: r["logical_date"])
    assert [r["state"] for r in runs] == ["success", "success"], runs
    assert [pendulum.parse(r["logical_date"]) for r in runs] == [
        datetime(2026, 3, 2, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
    ]
    # Each run is due once its UTC day has ended.
    assert [pendulum.parse(r["run_after"]) for r in runs] == [datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)]


def assert_asset_triggered_runs_succeed(airflow: Airflow, dag_id: str) -> None:
    # The backfill's asset events are queued for the consumer; a scheduler creates its run
    # when it creates scheduled runs, which this deployment kept off so far (no scheduled run
    # of today beside the backfill): now on, with the daily DAG paused.
    airflow.cli("dags", "pause", "csmetrics_daily")
    airflow.schedule_runs()
    airflow.wait_for_asset_triggered_runs(dag_id)
    runs = airflow.query("SELECT state, run_type FROM dag_run WHERE dag_id = ?", dag_id)
    assert runs and all(run == ("success", "asset_triggered") for run in runs), runs


def test_the_leaderboard_export_runs_on_the_asset_events_of_the_daily_runs(spark, scheduled):
    assert_asset_triggered_runs_succeed(scheduled["airflow"], "csmetrics_leaderboard_export")
    leaderboard = spark.read.format("delta").load(f"{scheduled['warehouse']}/gold/leaderboard_daily")
    by_date: dict[date, list[tuple]] = {}
    for r in leaderboard.orderBy("stat_date", "platform", "category", "metric", "rank", "shop_id").collect():
        by_date.setdefault(r.stat_date, []).append((r.metric, str(r.rank), r.shop_id))
    exported = {}
    for path in sorted((scheduled["exports"] / "leaderboard_daily").glob("stat_date=*.csv")):
        rows = pd.read_csv(path, dtype=str).to_dict("records")
        exported[date.fromisoformat(path.stem.removeprefix("stat_date="))] = [(r["metric"], r["rank"], r["shop_id"]) for r in rows]
    assert by_date and exported == by_date


def test_the_alert_consumer_runs_on_the_asset_events_of_the_daily_runs(spark, scheduled):
    """Triggered by the alerts table's Asset, it sends every alert of the table once and
    records the version it sent (two days of history raise none: the file stays empty)."""
    assert_asset_triggered_runs_succeed(scheduled["airflow"], "csmetrics_alert_notify")
    table = DeltaTable.forPath(spark, f"{scheduled['warehouse']}/gold/metric_alerts_daily")
    alerts = table.toDF().count()
    sent = scheduled["exports"] / "alerts" / "alerts.log"
    assert (len(sent.read_text().splitlines()) if sent.exists() else 0) == alerts
    assert (scheduled["exports"] / "alerts" / "_notified_version").read_text().strip() == str(table.history(1).first().version)


def test_each_run_computed_its_own_date_from_the_files_landed_by_its_cutoff(spark, scheduled):
    run_for = {pendulum.parse(r["logical_date"]).date(): r["run_id"] for r in scheduled["runs"]}
    rows = spark.read.format("delta").load(f"{scheduled['warehouse']}/gold/shop_metrics_daily")
    # The run for DAY2 made DAY1's window-1 metrics final and wrote DAY2 as provisional.
    writers = {
        (r.stat_date, r.maturity): r.run_id
        for r in rows.where(F.col("metric") == "consult_sessions").select("stat_date", "maturity", "run_id").distinct().collect()
    }
    assert writers == {(DAY1, "final"): run_for[DAY2], (DAY2, "provisional"): run_for[DAY2]}
    # No run ingested a file landed after its own cutoff. (With both runs at once, the run
    # that ingests first takes every file landed by its cutoff; Airflow usually starts DAY1's.)
    log = spark.read.format("delta").load(f"{scheduled['warehouse']}/bronze/_ingest_log")
    latest = {r.run_id: r.latest.replace(tzinfo=UTC) for r in log.groupBy("run_id").agg(F.max("landed_at").alias("latest")).collect()}
    date_of = {run_id: day for day, run_id in run_for.items()}
    assert latest and all(landed <= cutoff(date_of[run_id]) for run_id, landed in latest.items()), latest
    assert max(latest.values()) > cutoff(DAY1)
    assert rows.agg(F.max("stat_date")).first()[0] == DAY2
    # Two runs at once, one ingestion per file.
    assert log.count() == log.select("source_file", "landed_at").distinct().count() > 0

    day1 = {(r.shop_id, r.metric): r for r in rows.where(F.col("stat_date") == DAY1).collect()}
    expected = expected_session_counts(scheduled["landing"], DAY1, cutoff(DAY2))
    assert len(expected) >= 5
    for shop_id, counts in expected.iterrows():
        for metric in ("consult_sessions", "transfer_sessions", "received_sessions"):
            if counts[metric] > 0:
                assert day1[(shop_id, metric)].value == counts[metric], (shop_id, metric)
            else:
                assert (shop_id, metric) not in day1
        if counts["transfer_sessions"]:
            pickup = day1[(shop_id, "pickup_rate")]
            assert (pickup.numerator, pickup.denominator) == (counts["received_sessions"], counts["transfer_sessions"])


# Each step's own progress line: the run task's logs must show it, at info level.
PROGRESS = ("ingest sessions:", "bronze gate:", "computing ", "gold gate:", "published ", "derived ")


def without_heartbeat_race(errors: list[str]) -> list[str]:
    """`errors` without Spark's own report of a known race (SPARK-59451, a fix open upstream):
    the executor's heartbeat reads an accumulator that a task is still deserializing, and the
    heartbeat thread logs a NullPointerException in `isZero` with its stack, one event a line.
    The run went on and published; it happened once in a clean-clone CI (2026-12-06)."""
    kept, in_race = [], False
    for event in errors:
        if "Uncaught exception in thread executor-heartbeater" in event:
            in_race = True
        elif not (in_race and event.startswith(("java.lang.NullPointerException", "\tat "))):
            in_race = False
            kept.append(event)
    return kept


def test_task_logs_hold_progress_not_library_chatter(scheduled):
    """Airflow files a task's stderr at error level: Spark's start-up warnings and GX's INFO
    lines (the gates run GX) belong in CSMETRICS_LOG_FILE, not there."""
    runs = sorted((scheduled["root"] / "airflow" / "logs" / "dag_id=csmetrics_daily").glob("run_id=backfill__*"))
    assert len(runs) == 2  # the module's two dates
    for run in runs:
        # The attempt that succeeded (an earlier, failed one logs its failure at error level).
        log = max(run.glob("task_id=run/attempt=*.log"), key=lambda path: int(path.stem.removeprefix("attempt=")))
        events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        for line in PROGRESS:
            assert any(e["event"].startswith(line) and e["level"] == "info" for e in events), (log, line)
        # The JVM's own notice of the vector module is printed before any logging exists.
        errors = [e["event"] for e in events if e["level"] == "error" and "incubator modules" not in e["event"]]
        assert without_heartbeat_race(errors) == [], log
        assert not [e for e in events if e.get("logger", "").startswith("great_expectations")], log
    assert (scheduled["root"] / "csmetrics.log").exists()


def test_the_scheduled_runs_final_rows_equal_the_duckdb_reference(scheduled):
    """Every final row the scheduler's runs left (shop and agent grain) equals the DuckDB
    reference of SPEC computed from the files each run's cutoff let it see: an implementation
    this project's Spark code shares nothing with, run as a user runs it."""
    checked = subprocess.run(
        [sys.executable, str(ROOT / "bench/reference/check_gold.py"), "--landing", scheduled["landing"],
         "--warehouse", scheduled["warehouse"], "--first-run", str(DAY1), "--last-run", str(DAY2)],
        capture_output=True, text=True, timeout=300,
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    compared = {
        fields[0]: int(fields[1].replace(",", ""))
        for fields in (line.split() for line in checked.stdout.splitlines())
        if len(fields) == 5 and fields[0] in registry.BY_ID
    }
    # The runs made final the window-0 metrics of both dates (the closed tickets of this
    # data) and the window-1 metrics of the first.
    assert {m for m, same in compared.items() if same and registry.BY_ID[m].window_days == 0}, checked.stdout
    assert all(compared.get(m) for m in ("pickup_rate", "reply_3min_rate", "consult_sessions")), checked.stdout
    assert checked.stdout.rstrip().endswith("every final row equals the reference")


def test_the_chunked_backfill_dag_under_the_scheduler_changes_nothing_and_triggers_the_consumer(spark, scheduled):
    """csmetrics_backfill triggered as an operator would, over the dates the daily runs made:
    every task succeeds (the two small days are one chunk, sized by their landed files), its
    derive task updates every gold Asset, the consumer runs on those events, and gold is what
    the daily runs left."""
    airflow = scheduled["airflow"]
    tables = ("shop_metrics_daily", "agent_metrics_daily", "leaderboard_daily")
    before = {t: gold(spark, scheduled["warehouse"], t) for t in tables}
    exports_before = len(airflow.query("SELECT 1 FROM dag_run WHERE dag_id = ?", "csmetrics_leaderboard_export"))
    airflow.schedule_runs()
    airflow.wait_for_dag("csmetrics_backfill")
    airflow.cli("dags", "unpause", "csmetrics_backfill")
    airflow.cli("dags", "trigger", "csmetrics_backfill", "--conf", json.dumps({"start": str(DAY1), "end": str(DAY2)}))
    airflow.wait_for_runs("csmetrics_backfill", 1, RUNS_TIMEOUT_S)

    assert airflow.task_states("csmetrics_backfill") == {
        ("chunk_arguments", -1): "success",
        ("prepare", -1): "success",
        ("run_chunk", 0): "success",
        ("derive", -1): "success",
    }
    assert sorted(airflow.asset_events_from("csmetrics_backfill")) == sorted(a.name for a in [*PUBLISHED, *DERIVED])
    airflow.wait_for_asset_triggered_runs("csmetrics_leaderboard_export")
    exports = airflow.query("SELECT state FROM dag_run WHERE dag_id = ?", "csmetrics_leaderboard_export")
    assert len(exports) > exports_before and {state for (state,) in exports} == {"success"}
    after = {t: gold(spark, scheduled["warehouse"], t) for t in tables}
    assert [t for t in tables if not same_rows(after[t], before[t])] == []


def test_the_maintenance_dag_runs_on_its_weekly_timetable_and_changes_no_row(spark, scheduled):
    """Unpaused, csmetrics_maintenance gets the scheduler's run of its latest Sunday 03:00 UTC
    (catchup off), which compacts and vacuums every gold table without changing a row."""
    airflow = scheduled["airflow"]
    tables = ("shop_metrics_daily", "agent_metrics_daily", "scene_metrics_daily", "leaderboard_daily")
    before = {t: gold(spark, scheduled["warehouse"], t) for t in tables}
    airflow.schedule_runs()
    airflow.wait_for_dag("csmetrics_maintenance")
    airflow.cli("dags", "unpause", "csmetrics_maintenance")
    airflow.wait_for_runs("csmetrics_maintenance", 1, timeout_s=900)

    [(state, run_type, run_after)] = airflow.query("SELECT state, run_type, run_after FROM dag_run WHERE dag_id = ?", "csmetrics_maintenance")
    assert (state, run_type) == ("success", "scheduled")
    run_after = pendulum.parse(run_after)
    assert (run_after.day_of_week, run_after.hour, run_after.minute) == (pendulum.SUNDAY, 3, 0)
    assert 0 < (pendulum.now("UTC") - run_after).total_seconds() <= 7 * 86400
    for table in tables:
        history = spark.sql(f"DESCRIBE HISTORY delta.`{scheduled['warehouse']}/gold/{table}`").collect()
        assert "VACUUM END" in {r.operation for r in history}, table
    after = {t: gold(spark, scheduled["warehouse"], t) for t in tables}
    assert [t for t in tables if not same_rows(after[t], before[t])] == []
