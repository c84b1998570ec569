"""The gates: GX suites stop bad rows, name the failing keys, and warn without blocking."""

from __future__ import annotations

import importlib
import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from csmetrics.expectations import bronze as bronze_suite
from csmetrics.quality import gold_views, native
from csmetrics.quality.checks import COVERAGE, CRITICAL, PER_SHOP_DAY, PLATFORM_VOLUME, ROWS, SHOP_VOLUME, WARNING, Check
from csmetrics.quality.gate import (
    GxProject,
    QualityGateError,
    TableChecks,
    held_back_shop_days,
    open_context,
    raise_on_critical,
    run_in_gx,
    validate,
    validate_tables,
)
from csmetrics.schemas.gold import SHOP_METRICS_DAILY
from csmetrics.spark import session_setting

D = date(2026, 3, 2)


def row(metric, numerator, denominator, value, shop="s1", day=D):
    return (day, shop, metric, "all", numerator, denominator, value, "provisional", datetime(2026, 3, 3, 16), "v1", "r", datetime(2026, 3, 4))


def run_suite(settings, table, frames, dates=(D,), factor=3.0):
    if table.startswith("bronze_"):
        raw = table.removeprefix("bronze_")
        return validate(GxProject(settings), table, frames, bronze_suite.expectations(raw), bronze_suite.keys(raw), "test-run")
    suite = importlib.import_module(f"csmetrics.expectations.{table}")
    return validate(GxProject(settings), table, frames, suite.expectations(list(dates), factor), suite.KEYS, "test-run")


def test_the_native_checks_answer_as_gx_does(spark, settings):
    """Every expectation type the suites use, on the values that decide it (nulls, both
    borders, equal pairs, repeated nulls in keys), answered by both engines."""
    import great_expectations.expectations as gxe

    frame = spark.createDataFrame(
        [
            ("a", 0.0, 1, 1, "k1", None),
            ("b", 1.0, 2, None, "k2", None),
            ("c", 1.5, None, 3, None, None),
            (None, None, 4, 4, None, None),
            ("a", -0.5, 5, 6, "k1", "x"),
        ],
        "kind string, v double, a int, b int, key string, other string",
    )
    spark_filter = dict(condition_parser="spark")
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="kind"),
        gxe.ExpectColumnValuesToNotBeNull(column="a", row_condition="kind = 'a'", **spark_filter),
        gxe.ExpectColumnValuesToBeNull(column="other"),
        gxe.ExpectColumnValuesToBeNull(column="other", row_condition="v >= 0", **spark_filter),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["a", "b"]),
        gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["a", "b", "c"]),
        gxe.ExpectColumnValuesToBeBetween(column="v", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="v", min_value=-0.5, max_value=1.5),
        gxe.ExpectColumnValuesToBeBetween(column="v", min_value=-0.5, strict_min=True),
        gxe.ExpectColumnValuesToBeBetween(column="v", max_value=1.5, strict_max=True),
        gxe.ExpectColumnValuesToBeBetween(column="v", min_value=0, row_condition="kind IN ('b', 'c')", **spark_filter),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="b", column_B="a", or_equal=True),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="b", column_B="a"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="b", column_B="a", ignore_row_if="either_value_is_missing"),
        gxe.ExpectColumnValuesToBeUnique(column="a"),
        gxe.ExpectColumnValuesToBeUnique(column="key"),
        gxe.ExpectColumnValuesToBeUnique(column="other"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["key", "other"]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["kind", "key"]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["key", "a"]),
        gxe.ExpectTableRowCountToBeBetween(min_value=5, max_value=5),
        gxe.ExpectTableRowCountToBeBetween(min_value=5, strict_min=True),
        gxe.ExpectTableColumnsToMatchSet(column_set=["kind", "v", "a", "b", "key", "other"], exact_match=True),
        gxe.ExpectTableColumnsToMatchSet(column_set=["kind", "v"], exact_match=True),
        gxe.ExpectTableColumnsToMatchSet(column_set=["kind", "v"], exact_match=False),
    ]
    assert all(native.supports(e) for e in expectations)
    checks = [Check(e) for e in expectations]
    by_gx = run_in_gx(open_context(settings), "parity", frame, checks, {"result_format": "SUMMARY"}, "parity")
    by_spark = native.evaluate(frame, expectations)
    answers = [
        (e.expectation_type, by_gx[id(c)].success, n.success, by_gx[id(c)].unexpected_count, n.unexpected_count)
        for e, c, n in zip(expectations, checks, by_spark)
    ]
    assert [a[:3] for a in answers if a[1] != a[2]] == []
    # Where the aggregation counts failing rows (row-level checks), it counts what GX counts.
    assert [a for a in answers if a[4] is not None and a[3] is not None and a[3] != a[4]] == []
    # Both outcomes occur for every type: the fixture decides each rule on both sides.
    outcomes = {}
    for e, n in zip(expectations, by_spark):
        outcomes.setdefault(e.expectation_type, set()).add(n.success)
    assert all(found == {True, False} for found in outcomes.values()), outcomes


def jobs_of(spark, group: str, call):
    """What `call()` returns, and how many Spark jobs it ran."""
    context = spark.sparkContext
    context.setJobGroup(group, group)
    try:
        result = call()
    finally:
        for key in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            context.setLocalProperty(key, None)
    return result, len(context.statusTracker().getJobIdsForGroup(group))


def test_a_gate_decides_every_view_of_every_table_in_one_spark_job(spark, settings, tmp_path):
    """Views of other shapes and checks are aggregated in one job, and each gets the answers
    its own aggregation gives: none takes another's counts. One job also where the session
    runs adaptive execution (production does; it makes a job of each shuffle)."""
    import great_expectations.expectations as gxe

    from csmetrics.schemas.bronze import bronze_schema
    from csmetrics.schemas.raw import SHOPS

    shop_rows = spark.createDataFrame([row("pickup_rate", 3.0, 2.0, 1.5), row("pickup_rate", 2.0, 3.0, 2 / 3, shop="s2")], SHOP_METRICS_DAILY)
    pairs = spark.createDataFrame([(1, 2), (3, 1), (3, 1)], "a int, b int")
    views = [
        (shop_rows, [gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=1),
                     gxe.ExpectTableRowCountToBeBetween(min_value=2, max_value=2)]),
        (pairs, [gxe.ExpectColumnValuesToBeUnique(column="a"), gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="b", column_B="a"),
                 gxe.ExpectTableRowCountToBeBetween(min_value=4)]),
        (pairs, [gxe.ExpectTableColumnsToMatchSet(column_set=["a", "b"], exact_match=True)]),  # the schema decides: no aggregation
        (shop_rows.limit(0), [gxe.ExpectColumnValuesToNotBeNull(column="value")]),
    ]
    with session_setting(spark, "spark.sql.adaptive.enabled", "true"), session_setting(spark, "spark.sql.shuffle.partitions", "3"):
        answers, jobs = jobs_of(spark, f"views-{tmp_path.name}", lambda: native.evaluate_views(views))
        # As they were before the gate's job.
        assert (spark.conf.get("spark.sql.adaptive.enabled"), spark.conf.get("spark.sql.shuffle.partitions")) == ("true", "3")
    assert jobs == 1
    assert [[(a.success, a.unexpected_count, a.observed_value) for a in view] for view in answers] == [
        [(False, 1, None), (True, None, 2)],
        [(False, None, None), (False, 2, None), (False, None, 3)],
        [(True, None, ["a", "b"])],
        [(True, 0, None)],
    ]
    assert answers == [native.evaluate(frame, expectations) for frame, expectations in views]

    # A whole gate that passes: two tables, three views, one job, and no GX.
    good = spark.createDataFrame([row("transfer_sessions", 3.0, None, 3.0), row("received_sessions", 2.0, None, 2.0)], SHOP_METRICS_DAILY)
    shop_suite = importlib.import_module("csmetrics.expectations.shop_metrics_daily")
    tables = [
        TableChecks("gold/shop_metrics_daily", {ROWS: good, PER_SHOP_DAY: gold_views.per_shop_day(good)}, shop_suite.expectations([D], 3.0), shop_suite.KEYS),
        TableChecks("bronze/shops", {ROWS: spark.createDataFrame([], bronze_schema(SHOPS))}, bronze_suite.expectations("shops"), bronze_suite.keys("shops")),
    ]
    project = GxProject(settings)
    with session_setting(spark, "spark.sql.adaptive.enabled", "true"):
        results, jobs = jobs_of(spark, f"gate-{tmp_path.name}", lambda: validate_tables(project, tables, "test-run"))
    assert jobs == 1 and not project.used
    assert {r.table for r in results} == {"gold/shop_metrics_daily", "bronze/shops"}
    assert [r.describe() for r in results if not r.success] == []


def failed(results, severity=CRITICAL):
    return sorted((r.check.view, r.name) for r in results if not r.success and r.check.severity == severity)


def test_good_rows_pass(spark, settings):
    rows = spark.createDataFrame(
        [row("transfer_sessions", 3.0, None, 3.0), row("received_sessions", 2.0, None, 2.0), row("pickup_rate", 2.0, 3.0, 2 / 3)],
        SHOP_METRICS_DAILY,
    )
    results = run_suite(settings, "shop_metrics_daily", {ROWS: rows, PER_SHOP_DAY: gold_views.per_shop_day(rows)})
    assert results and all(r.success for r in results)
    raise_on_critical(results, "")


def test_legitimate_edge_values_pass_every_check(spark, settings):
    """Values real platforms produce that a check written against one generator might not
    expect: agents who send more messages than buyers, rates of exactly 0 and 1, a wait of
    0 s, a shop whose only session of the day was spam."""
    rows = spark.createDataFrame(
        [
            row("answer_question_ratio", 5.0, 2.0, 2.5),  # split replies: above 1 is normal
            row("answer_question_ratio", 1.0, 3.0, 1 / 3, shop="s2"),
            row("transfer_sessions", 3.0, None, 3.0),
            row("received_sessions", 3.0, None, 3.0),  # received = transferred
            row("pickup_rate", 3.0, 3.0, 1.0),
            row("reply_3min_rate", 0.0, 4.0, 0.0),
            row("avg_wait_seconds", 0.0, 2.0, 0.0),
            row("consult_sessions", 1.0, None, 1.0),
            row("consult_sessions", 1.0, None, 1.0, shop="s2"),
            row("filtered_sessions", 1.0, None, 1.0, shop="spam_only"),
        ],
        SHOP_METRICS_DAILY,
    )
    sessions = sessions_frame(spark, [(D, "s1", False), (D, "s2", False), (D, "spam_only", True)])
    frames = {ROWS: rows, PER_SHOP_DAY: gold_views.per_shop_day(rows), COVERAGE: gold_views.conversation_coverage(rows, sessions)}
    results = run_suite(settings, "shop_metrics_daily", frames)
    assert results and [r.describe() for r in results if not r.success] == []
    assert held_back_shop_days(frames, results) is None
    raise_on_critical(results, "")


def test_impossible_values_hold_back_only_their_shop_day(spark, settings):
    rows = spark.createDataFrame(
        [
            row("pickup_rate", 2.0, 3.0, 2 / 3, shop="good"),
            row("consult_sessions", 3.0, None, 3.0, shop="good"),
            row("pickup_rate", 3.0, 2.0, 1.5, shop="rate_above_1"),
            row("avg_wait_seconds", -10.0, 2.0, -5.0, shop="negative_wait"),  # assigned before queued upstream
            row("transfer_sessions", 2.0, None, 2.0, shop="more_received"),
            row("received_sessions", 3.0, None, 3.0, shop="more_received"),
            row("consult_sessions", 2.0, 2.0, 2.0, shop="count_with_denominator"),
            row("avg_response_seconds", 0.0, 0.0, 0.0, shop="empty_denominator"),
        ],
        SHOP_METRICS_DAILY,
    )
    sessions = sessions_frame(spark, [(D, "good", False), (D, "lost_rows", False)])
    frames = {ROWS: rows, PER_SHOP_DAY: gold_views.per_shop_day(rows), COVERAGE: gold_views.conversation_coverage(rows, sessions)}
    results = run_suite(settings, "shop_metrics_daily", frames)
    # Every failure is a row-level one: nothing blocks the table ...
    raise_on_critical(results, "")
    # ... and exactly the failing shop-days are held back, each with its rule.
    held = {r.shop_id: r.reason for r in held_back_shop_days(frames, results).collect()}
    assert sorted(held) == ["count_with_denominator", "empty_denominator", "lost_rows", "more_received", "negative_wait", "rate_above_1"]
    assert "metric IN (" in held["rate_above_1"] and "expect_column_values_to_be_between" in held["rate_above_1"]
    assert "has_conversation_rows" in held["lost_rows"]
    assert "column_A" in held["more_received"]
    assert "expect_column_values_to_be_null" in held["count_with_denominator"]


def test_what_only_the_job_can_get_wrong_blocks_the_publish_with_keys(spark, settings):
    rows = spark.createDataFrame(
        [
            row("pickup_rate", 1.0, 2.0, 0.5),
            row("pickup_rate", 1.0, 2.0, 0.5),  # a duplicate key
            row("pickup_rate", 1.0, 1.0, 1.0, day=date(2026, 3, 9)),  # a date the run does not own
        ],
        SHOP_METRICS_DAILY,
    )
    results = run_suite(settings, "shop_metrics_daily", {ROWS: rows})
    assert failed(results) == [(ROWS, "expect_column_values_to_be_in_set"), (ROWS, "expect_compound_columns_to_be_unique")]
    with pytest.raises(QualityGateError) as failure:
        raise_on_critical(results, "Re-run this date.")
    message = str(failure.value)
    assert "nothing was published" in message and message.endswith("Re-run this date.")
    # The failing row is named by its key, not only by its value.
    assert "shop_metrics_daily [rows]: expect_column_values_to_be_in_set {'column': 'stat_date'}" in message
    assert "sample [{'stat_date': '2026-03-09', 'shop_id': 's1', 'metric': 'pickup_rate', 'segment': 'all'}]" in message


def test_bronze_suite_catches_rows_that_break_the_contract(spark, settings):
    from csmetrics.schemas.bronze import bronze_schema
    from csmetrics.schemas.raw import RATINGS

    t = datetime(2026, 3, 2, 10)
    tracking = (D, D, t, "hash", "run")  # event_date, _arrival_dt, _landed_at, _row_hash, _run_id

    def rating(rating_id, score=5, target="human", rated=t, shop="s1"):
        return (rating_id, "x", shop, "b1", target, t, rated, score, None) + tracking

    frame = spark.createDataFrame(
        [
            rating("ok"),  # rated in the very microsecond of the invitation: legitimate
            rating("lowest", score=1),
            rating("bot", target="bot"),
            rating("dup"), rating("dup"), rating("r9", score=9), rating("rb", target="robot"), rating("early", rated=t - timedelta(hours=1)),
            rating("unknown shop", shop="s404"),  # valid, but counts in no metric until its shop's row lands
        ],
        bronze_schema(RATINGS),
    )
    results = run_suite(settings, "bronze_ratings", {ROWS: as_validated(spark, frame)})
    assert failed(results) == [
        (ROWS, "expect_column_pair_values_a_to_be_greater_than_b"),
        (ROWS, "expect_column_values_to_be_between"),
        (ROWS, "expect_column_values_to_be_in_set"),
        (ROWS, "expect_column_values_to_be_unique"),
    ]
    samples = {r.name: r.sample for r in results if not r.success}
    assert samples["expect_column_values_to_be_between"] == [{"rating_id": "r9", "score": 9}]
    # The record of a shop without a snapshot row is a warning that names the record.
    assert failed(results, WARNING) == [(ROWS, "expect_column_values_to_be_in_set")]
    (warning,) = [r for r in results if not r.success and r.check.severity == WARNING]
    assert (warning.unexpected_count, warning.sample) == (1, [{"rating_id": "unknown shop", "has_shop_row": False}])


def as_validated(spark, frame, shops=("s1",)):
    """An event table's bronze rows as the bronze gate validates them: with has_shop_row."""
    from csmetrics.quality.bronze_gate import with_shop_row

    return with_shop_row(frame, spark.createDataFrame([(shop,) for shop in shops], "shop_id string"))


def test_an_unchanged_snapshot_is_not_a_warning(spark, settings):
    from csmetrics.schemas.bronze import bronze_schema
    from csmetrics.schemas.raw import SHOPS

    results = run_suite(settings, "bronze_shops", {ROWS: spark.createDataFrame([], bronze_schema(SHOPS))})
    assert results and [r.describe() for r in results if not r.success] == []


def test_a_shop_timezone_must_be_a_known_zone(spark, settings):
    from csmetrics.schemas.bronze import bronze_schema
    from csmetrics.schemas.raw import SHOPS

    def shop(shop_id, zone):
        return (shop_id, "n", "taobao", "food", "gold", zone, D, D, datetime(2026, 3, 2), "hash", "run")

    # DST zones of both hemispheres, a half-hour offset, legacy link names, UTC+14: legitimate.
    legitimate = ["Asia/Shanghai", "America/Los_Angeles", "Europe/Berlin", "Pacific/Auckland", "Asia/Kolkata",
                  "US/Pacific", "Etc/GMT-14", "Pacific/Kiritimati", "UTC"]
    frame = spark.createDataFrame([shop(f"s{i}", z) for i, z in enumerate(legitimate)] + [shop("bad", "Mars/Olympus")], bronze_schema(SHOPS))
    results = run_suite(settings, "bronze_shops", {ROWS: frame})
    assert failed(results) == [(ROWS, "expect_column_values_to_be_in_set")]
    (sample,) = [r.sample for r in results if not r.success]
    assert [(row["shop_id"], row["timezone"]) for row in sample] == [("bad", "Mars/Olympus")]


def test_empty_batch_is_only_a_warning(spark, settings):
    from csmetrics.schemas.bronze import bronze_schema
    from csmetrics.schemas.raw import COMPLAINTS

    results = run_suite(settings, "bronze_complaints", {ROWS: as_validated(spark, spark.createDataFrame([], bronze_schema(COMPLAINTS)))})
    assert failed(results) == [] and failed(results, WARNING) == [(ROWS, "expect_table_row_count_to_be_between")]
    raise_on_critical(results, "")


def sessions_frame(spark, sessions):
    """(stat_date, shop_id, is_filtered) of sessions."""
    return spark.createDataFrame(sessions, "stat_date date, shop_id string, is_filtered boolean")


def test_a_shop_with_sessions_but_no_conversation_rows_is_stopped(spark, settings):
    rows = spark.createDataFrame([row("consult_sessions", 4.0, None, 4.0, shop="s1")], SHOP_METRICS_DAILY)
    sessions = [(D, "s1", False), (D, "s1", True), (D, "s2", False), (D, "s3", True)]
    coverage = gold_views.conversation_coverage(rows, sessions_frame(spark, sessions))
    # s3 had only a filtered session: it expects no conversation rows.
    assert sorted(tuple(r) for r in coverage.collect()) == [(D, "s1", True), (D, "s2", False)]
    results = run_suite(settings, "shop_metrics_daily", {COVERAGE: coverage})
    assert failed(results) == [(COVERAGE, "expect_column_values_to_be_in_set")]
    assert [r.sample for r in results if not r.success] == [[{"stat_date": D, "shop_id": "s2", "has_conversation_rows": False}]]


def test_volume_against_the_trailing_seven_day_median(spark, settings):
    # Shop a: 10, 12, (no row), 8, 10, 11, 9 on D-7..D-1 -> sorted 0 8 9 10 10 11 12, median 10.
    # Shop b: 5 every day, median 5. Shop c only appears on D (no median: no ratio).
    history_values = {"a": [10, 12, None, 8, 10, 11, 9], "b": [5] * 7}
    history = [
        row("consult_sessions", float(v), None, float(v), shop=shop, day=D - timedelta(days=7 - i))
        for shop, values in history_values.items()
        for i, v in enumerate(values)
        if v is not None
    ]
    today = [row("consult_sessions", 35.0, None, 35.0, shop="a"), row("consult_sessions", 14.0, None, 14.0, shop="b"),
             row("consult_sessions", 3.0, None, 3.0, shop="c")]
    history_frame = spark.createDataFrame(history, SHOP_METRICS_DAILY)
    today_frame = spark.createDataFrame(today, SHOP_METRICS_DAILY)

    shops = {r.shop_id: (r.value, r.trailing_median, r.ratio_to_trailing_median)
             for r in gold_views.shop_volume(today_frame, history_frame, [D]).collect()}
    assert shops == {"a": (35.0, 10.0, 3.5), "b": (14.0, 5.0, 2.8), "c": (3.0, None, None)}
    # Platform: daily sums 15, 17, 5, 13, 15, 16, 14 -> median 15; today 52.
    platform = gold_views.platform_volume(today_frame, history_frame, [D]).collect()
    assert [(r.stat_date, r.value, r.trailing_median) for r in platform] == [(D, 52.0, 15.0)]

    results = run_suite(
        settings,
        "shop_metrics_daily",
        {SHOP_VOLUME: gold_views.shop_volume(today_frame, history_frame, [D]),
         PLATFORM_VOLUME: gold_views.platform_volume(today_frame, history_frame, [D])},
    )
    # 3.5 > 3 for shop a and 52 / 15 > 3 for the platform: warnings, which never block.
    assert failed(results) == []
    assert failed(results, WARNING) == [(PLATFORM_VOLUME, "expect_column_values_to_be_between"),
                                        (SHOP_VOLUME, "expect_column_values_to_be_between")]
    assert [r.sample for r in results if r.check.view == SHOP_VOLUME] == [[{"stat_date": D, "shop_id": "a", "ratio_to_trailing_median": 3.5}]]
    raise_on_critical(results, "")


def test_no_ratio_until_seven_days_are_published(spark):
    history = spark.createDataFrame([row("consult_sessions", 5.0, None, 5.0, day=D - timedelta(days=i)) for i in range(1, 7)], SHOP_METRICS_DAILY)
    today = spark.createDataFrame([row("consult_sessions", 50.0, None, 50.0)], SHOP_METRICS_DAILY)
    assert [r.ratio_to_trailing_median for r in gold_views.shop_volume(today, history, [D]).collect()] == [None]


def test_a_platform_wide_collapse_blocks_the_publish_and_a_quiet_day_does_not(spark, settings):
    history = spark.createDataFrame(
        [row("consult_sessions", 100.0, None, 100.0, shop=shop, day=D - timedelta(days=i)) for i in range(1, 8) for shop in ("a", "b")],
        SHOP_METRICS_DAILY,
    )

    def platform(today_values):
        today = spark.createDataFrame(
            [row("consult_sessions", v, None, v, shop=shop) for shop, v in today_values.items()], SHOP_METRICS_DAILY
        )
        return run_suite(settings, "shop_metrics_daily", {PLATFORM_VOLUME: gold_views.platform_volume(today, history, [D])})

    # 21 of a median 200: a tenth and a bit, a very quiet day (a warning only).
    quiet_day = platform({"a": 11.0, "b": 10.0})
    assert failed(quiet_day) == [] and failed(quiet_day, WARNING) == [(PLATFORM_VOLUME, "expect_column_values_to_be_between")]
    # 19 of 200: files lost upstream. It blocks.
    collapse = platform({"a": 19.0})
    assert failed(collapse) == [(PLATFORM_VOLUME, "expect_column_values_to_be_between")]
    with pytest.raises(QualityGateError, match="platform_volume"):
        raise_on_critical(collapse, "")


def test_a_held_back_shop_keeps_its_published_rows_and_every_other_shop_publishes(spark, settings):
    from csmetrics.plan import RunPlan
    from csmetrics.publish import publish
    from csmetrics.quality.gold_gate import validate_gold
    from csmetrics.schemas.gold import AGENT_METRICS_DAILY, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY
    from csmetrics.tables import staging_path

    plan = RunPlan(D)

    def run(run_id, shop_rows):
        staged = (("shop_metrics_daily", shop_rows, SHOP_METRICS_DAILY), ("agent_metrics_daily", [], AGENT_METRICS_DAILY),
                  ("session_detail_daily", [], SESSION_DETAIL_DAILY), ("scene_metrics_daily", [], SCENE_METRICS_DAILY))
        for table, rows, schema in staged:
            # One file, so that gold's file holds every shop of the date, as at scale.
            spark.createDataFrame(rows, schema).coalesce(1).write.format("delta").mode("overwrite").save(staging_path(settings, table, run_id))
        report = validate_gold(spark, settings, plan, run_id)
        counts.append(publish(spark, settings, plan, run_id))
        published = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
        return report, {(r.shop_id, r.metric): r.value for r in published.collect()}

    counts = []
    _, first = run("first", [row("pickup_rate", 1.0, 2.0, 0.5, shop="a"), row("pickup_rate", 1.0, 2.0, 0.5, shop="b")])
    assert first == {("a", "pickup_rate"): 0.5, ("b", "pickup_rate"): 0.5}
    # Staging tables are kept 7 days by default (a publish can be retried); 0 keeps none.
    assert os.path.exists(staging_path(settings, "shop_metrics_daily", "first"))
    settings = replace(settings, staging_keep_days=0)
    report, second = run("second", [row("pickup_rate", 2.0, 2.0, 1.0, shop="a"), row("pickup_rate", 3.0, 2.0, 1.5, shop="b")])
    assert not os.path.exists(staging_path(settings, "shop_metrics_daily", "second"))
    assert not os.path.exists(staging_path(settings, "agent_metrics_daily", "second"))
    # b's impossible rate is held back with its reason; its earlier row stays; a publishes.
    assert second == {("a", "pickup_rate"): 1.0, ("b", "pickup_rate"): 0.5}
    # The rows each publish wrote, from its commit's metrics: b's kept row was copied into
    # the file that replaced a's, not written.
    assert [c["shop_metrics_daily"] for c in counts] == [2, 1]
    assert [(day, shop) for day, shop, _ in report.held_back] == [(D, "b")]
    assert "1 shop-day(s) held back" in report.summary() and "2026-03-02 b: gold/shop_metrics_daily [rows]" in report.summary()
    held = spark.read.format("delta").load(settings.table_path("quality", "held_back")).where("run_id = 'second'").collect()
    assert [(r.stat_date, r.shop_id) for r in held] == [(D, "b")]


def held_in_memory(spark) -> list[int]:
    """Ids of the RDDs the application holds blocks of, but Delta's cached table states."""
    infos = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    return sorted(info.id() for info in infos if not str(info.name()).startswith("Delta Table State"))


def test_a_run_in_one_application_stages_nothing_unless_its_gate_stops_it(spark, settings, monkeypatch):
    """The slice transaction (csmetrics.publish.publish_plan): compute, gate and publish from
    frames in memory. A passing run writes no staging table; a run its gate stops leaves its
    rows in staging for inspection, as the gate's message says, and gold unchanged. Either
    way the rows it held in memory are released (a backfill runs one a day)."""
    from csmetrics import publish as publishing
    from csmetrics.plan import RunPlan
    from csmetrics.schemas.gold import AGENT_METRICS_DAILY, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY
    from csmetrics.tables import staging_path

    def computed(shop_rows):
        tables = (("shop_metrics_daily", shop_rows, SHOP_METRICS_DAILY), ("agent_metrics_daily", [], AGENT_METRICS_DAILY),
                  ("session_detail_daily", [], SESSION_DETAIL_DAILY), ("scene_metrics_daily", [], SCENE_METRICS_DAILY))
        return lambda *args: {table: spark.createDataFrame(rows, schema) for table, rows, schema in tables}

    gold_path = settings.table_path("gold", "shop_metrics_daily")
    held_before = held_in_memory(spark)
    monkeypatch.setattr(publishing, "computed_tables", computed([row("pickup_rate", 1.0, 2.0, 0.5)]))
    report, written = publishing.publish_plan(spark, settings, RunPlan(D), "passes")
    assert written["shop_metrics_daily"] == 1 and "checks passed" in report.summary()
    assert not os.path.exists(staging_path(settings, "shop_metrics_daily", "passes"))
    assert held_in_memory(spark) == held_before

    # The same key twice: a table-level critical failure.
    monkeypatch.setattr(publishing, "computed_tables", computed([row("pickup_rate", 2.0, 2.0, 1.0)] * 2))
    with pytest.raises(QualityGateError, match="expect_compound_columns_to_be_unique") as failure:
        publishing.publish_plan(spark, settings, RunPlan(D), "stopped")
    assert staging_path(settings, "<table>", "stopped") in str(failure.value)
    staged = spark.read.format("delta").load(staging_path(settings, "shop_metrics_daily", "stopped"))
    assert [r.value for r in staged.collect()] == [1.0, 1.0]
    assert [r.value for r in spark.read.format("delta").load(gold_path).collect()] == [0.5]
    assert held_in_memory(spark) == held_before


def test_a_backfill_chunk_expects_each_days_sessions_as_its_own_cutoff_saw_them(spark, settings):
    """A chunk's days are computed as of their own cutoffs (RunPlan.backfill_days), so the
    gold gate's coverage must expect the sessions each day saw, not those of the chunk's last
    cutoff: a session that landed after its day's run read its input would otherwise hold
    back a shop-day that the daily run published."""
    from csmetrics.ingest.run import ingest
    from csmetrics.plan import RunPlan
    from csmetrics.quality.gold_gate import sessions_seen
    from tests.integration.landing_files import write_landing

    def session(session_id, shop, started):
        return dict(session_id=session_id, shop_id=shop, buyer_id="b1", started_at=started, ended_at=None,
                    transferred_to_human_at=None, queue_entered_at=None, assigned_at=None, last_agent_id=None,
                    is_internal=False, is_spam=False, scene_l1=None, scene_l2=None, scene_l3=None, updated_at=started)

    def utc(day, hour):
        return datetime(2026, 3, day, hour, tzinfo=UTC)

    write_landing(settings.landing, "shops", "2026-03-01", [
        dict(shop_id=shop, shop_name=shop, platform="tmall", category="food", tier="L1", timezone="UTC", opened_date=date(2025, 1, 1))
        for shop in ("s1", "s2")
    ])
    # The chunk's days are 03-03 (conversation date 03-02, cutoff 03-04 14:00) and 03-04
    # (conversation date 03-03, cutoff 03-05 14:00); the backfill ends on 03-05.
    write_landing(settings.landing, "sessions", "2026-03-03", [session("seen", "s1", utc(2, 10))], name="on-time", landed_at=utc(3, 12))
    # s2's session of 03-02 lands at 03-04 20:00: after the cutoff of the run for 03-03.
    write_landing(settings.landing, "sessions", "2026-03-04", [session("late", "s2", utc(2, 11))], name="late", landed_at=utc(4, 20))
    write_landing(settings.landing, "sessions", "2026-03-04", [session("next", "s2", utc(3, 9))], name="next", landed_at=utc(4, 12))
    ingest(spark, settings, "prepare", landed_by=None)

    plan = RunPlan.backfill_days([date(2026, 3, 3), date(2026, 3, 4)], date(2026, 3, 5))
    expected = sorted((r.stat_date, r.shop_id) for r in sessions_seen(spark, settings, plan).select("stat_date", "shop_id").collect())
    assert expected == [(date(2026, 3, 2), "s1"), (date(2026, 3, 3), "s2")]


def test_a_backfill_chunk_whose_gate_holds_back_a_shop_day_publishes_its_days_one_by_one(spark, settings, monkeypatch):
    """A hold in a chunk must withhold only the failing day's slices, within that day's
    allowance, as the daily runs do: the chunk then publishes nothing together, and gates and
    publishes each day on its own, under the day's run id, from the rows the chunk's one pass
    already computed."""
    from csmetrics import backfill as backfills
    from csmetrics import publish as publishing
    from csmetrics.plan import RunPlan
    from csmetrics.quality.gold_gate import held_back
    from csmetrics.schemas.gold import AGENT_METRICS_DAILY, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY

    tables = (("agent_metrics_daily", AGENT_METRICS_DAILY), ("session_detail_daily", SESSION_DETAIL_DAILY), ("scene_metrics_daily", SCENE_METRICS_DAILY))
    computed_chunks = []

    def computed(spark, settings, plan, run_id, *args):
        # Each day's pickup_rate of its date - 1; the first day's is out of range.
        computed_chunks.append([part.run_date for part in plan.parts])
        shop_rows = [
            row("pickup_rate", 1.0, 2.0, 1.5 if part.run_date == D + timedelta(days=1) else 0.5, day=part.run_date - timedelta(days=1))
            for part in plan.parts
        ]
        return {"shop_metrics_daily": spark.createDataFrame(shop_rows, SHOP_METRICS_DAILY), **{t: spark.createDataFrame([], s) for t, s in tables}}

    monkeypatch.setattr(publishing, "chunk_tables", computed)
    first, second, end = D + timedelta(days=1), D + timedelta(days=2), D + timedelta(days=3)
    chunk = RunPlan.backfill_days([first, second], end)
    day_id = lambda part: f"bf__{part.run_date}"  # noqa: E731
    assert publishing.publish_plan(spark, settings, chunk, "bf__chunk", part_run_id=day_id) is None
    assert computed_chunks == [[first, second]]
    published = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
    assert [tuple(r) for r in published.select("stat_date", "metric", "value", "run_id").collect()] == [(first, "pickup_rate", 0.5, f"bf__{second}")]
    assert [(day, shop) for day, shop, _ in held_back(spark, settings, f"bf__{first}")] == [(D, "s1")]

    # run_chunk names each day's run as the daily backfill would.
    calls = []
    monkeypatch.setattr(backfills, "publish_plan", lambda spark, settings, plan, run_id, progress, part_run_id: calls.append((run_id, part_run_id)))
    backfills.run_chunk(spark, settings, backfills.Chunk(first, second), end, False, "bf", lambda message: None)
    [(run_id, part_run_id)] = calls
    assert (run_id, [part_run_id(part) for part in chunk.parts]) == ("bf__2026-03-03_2026-03-04", ["bf__2026-03-03", "bf__2026-03-04"])


def test_a_held_back_chunk_leaves_the_backfills_end_to_its_own_daily_run(spark, settings, monkeypatch):
    """When the chunk holding the backfill's last day holds back a shop-day, its days go one
    by one, but the end: that day's daily run follows (csmetrics.backfill.run_chunk) and
    retries what they held back, so the chunk publishes none of its rows."""
    from csmetrics import publish as publishing
    from csmetrics.plan import RunPlan
    from csmetrics.quality.gold_gate import held_back
    from csmetrics.schemas.gold import AGENT_METRICS_DAILY, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY

    tables = (("agent_metrics_daily", AGENT_METRICS_DAILY), ("session_detail_daily", SESSION_DETAIL_DAILY), ("scene_metrics_daily", SCENE_METRICS_DAILY))
    first, end = D + timedelta(days=1), D + timedelta(days=2)

    def computed(spark, settings, plan, run_id, *args):
        # The first day's pickup_rate of D, in range; the end's of its own date, out of range.
        shop_rows = [row("pickup_rate", 1.0, 2.0, 0.5, day=D), row("pickup_rate", 1.0, 2.0, 1.5, day=end)]
        return {"shop_metrics_daily": spark.createDataFrame(shop_rows, SHOP_METRICS_DAILY), **{t: spark.createDataFrame([], s) for t, s in tables}}

    monkeypatch.setattr(publishing, "chunk_tables", computed)
    chunk = RunPlan.backfill_days([first, end], end)
    assert publishing.publish_plan(spark, settings, chunk, "bf__chunk", part_run_id=lambda part: f"bf__{part.run_date}") is None
    published = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
    assert [tuple(r) for r in published.select("stat_date", "metric", "value", "run_id").collect()] == [(D, "pickup_rate", 0.5, f"bf__{first}")]
    assert held_back(spark, settings, f"bf__{end}") == []
