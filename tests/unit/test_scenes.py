"""Scene metrics on test_delayed_metrics' hand-built shop, with scene labels; every expected
number is worked out in comments. The families compute them through their real wiring.

Labels of s1's sessions of D (2026-03-10; after-sale buyers bA, bC, bF; pre-sale bB, bD):
  S1  bA  human, received   aftersale / refund / refund_progress
  S6  bA  bot only          aftersale / refund / refund_amount
  S2  bC  human, received   aftersale / refund / refund_progress
  S3  bB  bot only          presale / product / size_fit
  S4  bD  human, received   presale / product / (no level 3)
  S8  bF  human, unpicked   (no labels)
  S5  bE  spam              presale / price / coupon: filtered, in no scene
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from pyspark.sql import functions as F

from csmetrics.conformed import sessions_of_dates
from csmetrics.metrics.families import FAMILIES
from csmetrics.metrics.family import METRIC_ROWS
from csmetrics.metrics.long_format import finish
from csmetrics.metrics.scenes import SCENE_METRICS, UNLABELLED, finish_scenes, worst_scenes
from csmetrics.schemas.gold import SCENE_METRICS_DAILY
from csmetrics.schemas.raw import MESSAGES, SESSIONS
from tests.unit.test_delayed_metrics import SESSION_ROWS, D, frames  # noqa: F401 (the fixture)

U = UNLABELLED
LABELS = {
    "S1": ("aftersale", "refund", "refund_progress"),
    "S6": ("aftersale", "refund", "refund_amount"),
    "S2": ("aftersale", "refund", "refund_progress"),
    "S3": ("presale", "product", "size_fit"),
    "S4": ("presale", "product", None),
    "S5": ("presale", "price", "coupon"),
}


def labelled(row: tuple) -> tuple:
    return (*row[:11], *LABELS.get(row[0], (None, None, None)), row[14])


class HandInputs:
    """A family's inputs from the hand-built frames."""

    def __init__(self, tables: dict, sessions):
        self._frames, self._sessions = tables, sessions
        self.shops = tables["shops"]
        self.business_start, self.business_end = time(8), time(23)

    def read(self, table):
        return self._sessions if table == "sessions" else self._frames[table]

    def reuse(self, frame):
        return frame

    def paid(self):
        return self._frames["paid"]

    def sessions_of_dates(self, dates):
        return sessions_of_dates(self._sessions, self.shops, dates)


def computed(tables, sessions, dates):
    """Per family: (its shop rows by (metric, segment), its scene rows by (level, scene, metric, segment))."""
    out = {}
    for name in ("conversation", "satisfaction", "fcr", "resolution"):
        family_tables = FAMILIES[name].compute(HandInputs(tables, sessions), dates)
        metrics = family_tables[METRIC_ROWS].where(F.col("agent_id").isNull() & (F.col("shop_id") == "s1"))
        scenes = family_tables[SCENE_METRICS]
        out[name] = (
            {(r.metric, r.segment): (r.numerator, r.denominator) for r in metrics.where(F.col("stat_date") == D).collect()},
            {
                (r.scene_level, r.scene, r.metric, r.segment): (r.numerator, r.denominator)
                for r in scenes.where((F.col("shop_id") == "s1") & (F.col("stat_date") == D)).collect()
            },
        )
    return out


@pytest.fixture(scope="module")
def families(spark, frames):  # noqa: F811
    sessions = spark.createDataFrame([labelled(r) for r in SESSION_ROWS], SESSIONS.schema)
    return computed(frames, sessions, [D])


@pytest.mark.parametrize(
    "level, scene, segment, expected",
    [
        # Non-filtered sessions of D: S1 S6 S2 S3 S4 S8 = 6.
        (1, "aftersale", "all", (3, 6)),  # S1 S6 S2
        (1, "presale", "all", (2, 6)),  # S3 S4
        (1, U, "all", (1, 6)),  # S8
        (2, "aftersale / refund", "all", (3, 6)),
        (2, f"{U} / {U}", "all", (1, 6)),
        (3, "aftersale / refund / refund_progress", "all", (2, 6)),  # S1 S2
        (3, "aftersale / refund / refund_amount", "all", (1, 6)),  # S6
        (3, f"presale / product / {U}", "all", (1, 6)),  # S4
        # Sent to a human: S1 S2 S4 S8; bot only: S6 S3.
        (1, "aftersale", "human", (2, 4)),
        (1, "presale", "human", (1, 4)),
        (1, "aftersale", "bot", (1, 2)),
        (1, "presale", "bot", (1, 2)),
        # After-sale buyers' sessions: S1 S6 S2 S8; pre-sale: S3 S4.
        (1, "aftersale", "aftersale", (3, 4)),
        (1, U, "aftersale", (1, 4)),
        (1, "presale", "presale", (2, 2)),
    ],
)
def test_scene_sessions_and_their_share(families, level, scene, segment, expected):
    _, scenes = families["conversation"]
    assert scenes[(level, scene, "consult_sessions", segment)] == expected


def test_the_spam_session_is_in_no_scene(families):
    _, scenes = families["conversation"]
    assert not [k for k in scenes if "price" in k[1]]
    assert (1, "presale", "consult_sessions", "aftersale") not in scenes


@pytest.mark.parametrize(
    "level, scene, segment, expected",
    [
        # Counted ratings: r1 (S1, 5), r4 (S2, 4), r3 (S4, 3), r6 (S3, 4, bot). r5's session is spam.
        (1, "aftersale", "all", (2, 2)),
        (1, "presale", "all", (1, 2)),
        (3, "aftersale / refund / refund_progress", "all", (2, 2)),
        (3, "presale / product / size_fit", "all", (1, 1)),
        (3, f"presale / product / {U}", "all", (0, 1)),
        (1, "presale", "human", (0, 1)),  # r3
        (1, "presale", "bot", (1, 1)),  # r6
        (1, "aftersale", "aftersale", (2, 2)),
    ],
)
def test_scene_satisfaction(families, level, scene, segment, expected):
    _, scenes = families["satisfaction"]
    assert scenes[(level, scene, "satisfaction_rate", segment)] == expected


def test_scene_fcr(families):
    _, scenes = families["fcr"]
    # S1 (recontacted by S1b) and S2 (not): both aftersale / refund / refund_progress.
    assert scenes == {
        (1, "aftersale", "fcr_3d", "all"): (1, 2),
        (2, "aftersale / refund", "fcr_3d", "all"): (1, 2),
        (3, "aftersale / refund / refund_progress", "fcr_3d", "all"): (1, 2),
    }


def test_scene_resolution_counts_a_buyer_once_per_scene_and_ticket_only_buyers_in_none(families):
    shop, scenes = families["resolution"]
    # Contacts: bA (unresolved; sessions S1 and S6), bC (S2), bF (S8), bB (ticket T1 only).
    assert shop[("resolution_rate_15d", "all")] == (3, 4)
    assert scenes[(1, "aftersale", "resolution_rate_15d", "all")] == (1, 2)  # bA once, bC
    assert scenes[(1, U, "resolution_rate_15d", "all")] == (1, 1)  # bF
    assert scenes[(3, "aftersale / refund / refund_progress", "resolution_rate_15d", "all")] == (1, 2)
    assert scenes[(3, "aftersale / refund / refund_amount", "resolution_rate_15d", "all")] == (0, 1)


def test_each_level_of_scenes_sums_to_the_shop(families):
    """The drill-down: at every level the scenes' numerators and denominators add up to the
    shop's (resolution_rate_15d is the documented exception)."""
    for family, metric, segment, shop_counts in [
        ("conversation", "consult_sessions", "all", (6, None)),
        ("satisfaction", "satisfaction_rate", "all", None),
        ("satisfaction", "satisfaction_rate", "human", None),
        ("fcr", "fcr_3d", "all", None),
    ]:
        shop, scenes = families[family]
        expected = shop_counts or shop[(metric, segment)]
        for level in (1, 2, 3):
            rows = [v for k, v in scenes.items() if k[0] == level and k[2] == metric and k[3] == segment]
            assert sum(n for n, _ in rows) == expected[0], (metric, level)
            if metric != "consult_sessions":
                assert sum(d for _, d in rows) == expected[1], (metric, level)
            else:
                assert {d for _, d in rows} == {6}


LA = "America/Los_Angeles"
DST_DAY = date(2026, 3, 8)  # Los Angeles springs forward at 02:00: a 23-hour day


def test_a_dst_day_shop(spark, frames):  # noqa: F811
    """s2 (Los Angeles) on its 23-hour day: sessions at 00:30 PST and 23:30 PDT are of the
    day, one at 23:30 the day before is not; the rows become final at the end of the local
    day after (07:00 UTC, PDT), and the session detail sums to the same count."""
    from tests.conftest import local

    def la_session(sid, started, labels):
        return (sid, "s2", "b" + sid, local(started, LA), None, None, None, None, "bot2", False, False, *labels, local(started, LA))

    rows = [
        la_session("P1", "2026-03-08 00:30:00", ("logistics", "shipping", "tracking")),
        la_session("P2", "2026-03-08 23:30:00", ("logistics", "shipping", "delivery_time")),
        la_session("P0", "2026-03-07 23:30:00", ("logistics", "shipping", "tracking")),
    ]
    sessions = spark.createDataFrame(rows, SESSIONS.schema)
    inputs = HandInputs(frames | {"messages": spark.createDataFrame([], MESSAGES.schema)}, sessions)
    family_tables = FAMILIES["conversation"].compute(inputs, [DST_DAY])
    metrics, scenes = family_tables[METRIC_ROWS], family_tables[SCENE_METRICS]
    finished = finish_scenes(scenes, frames["shops"], date(2026, 3, 10), "run-1", datetime(2026, 3, 10))
    got = {(r.scene, r.segment): (r.numerator, r.denominator, r.value, r.maturity, r.final_after) for r in finished.collect()}
    end_of_next_day = datetime(2026, 3, 10, 7, 0)  # 2026-03-10 00:00 PDT, as UTC
    assert got[("logistics / shipping / tracking", "bot")] == (1, 2, 0.5, "final", end_of_next_day)
    assert got[("logistics", "all")] == (2, 2, 1.0, "final", end_of_next_day)
    shop = finish(metrics, frames["shops"], date(2026, 3, 10), "run-1", datetime(2026, 3, 10))
    consult = shop.where((F.col("metric") == "consult_sessions") & F.col("agent_id").isNull()).collect()
    assert [(r.stat_date, r.value) for r in consult] == [(DST_DAY, 2.0)]
    detail = family_tables["session_detail_daily"]
    assert sorted(r.session_id for r in detail.collect()) == ["P1", "P2"]


def test_finished_scene_rows_follow_each_metric_window(spark, frames):  # noqa: F811
    rows = spark.createDataFrame(
        [
            (D, "s1", 1, "aftersale", "aftersale", None, None, "all", "consult_sessions", 3.0, 6.0),
            (D, "s1", 1, "aftersale", "aftersale", None, None, "all", "resolution_rate_15d", 1.0, 2.0),
            (D, "s1", 1, "presale", "presale", None, None, "all", "fcr_3d", 0.0, 0.0),  # no denominator: not emitted
        ],
        "stat_date date, shop_id string, scene_level int, scene string, scene_l1 string, scene_l2 string, scene_l3 string,"
        " segment string, metric string, numerator double, denominator double",
    )
    run_date = date(2026, 3, 12)  # D + 2: consult_sessions (window 1) final, resolution (15) not
    finished = finish_scenes(rows, frames["shops"], run_date, "run-1", datetime(2026, 3, 12)).select(*SCENE_METRICS_DAILY.fieldNames())
    got = {r.metric: (r.value, r.maturity) for r in finished.collect()}
    assert got == {"consult_sessions": (0.5, "final"), "resolution_rate_15d": (0.5, "provisional")}


def test_worst_scenes_rank_the_lowest_satisfaction_with_enough_ratings(spark):
    def row(day, scene, satisfied, ratings, maturity="final"):
        return (day, "s1", 3, scene, "satisfaction_rate", "all", float(satisfied), float(ratings), maturity)

    d1, d2 = date(2026, 3, 1), date(2026, 3, 2)
    daily = spark.createDataFrame(
        [
            row(d1, "a / a / x", 3, 5), row(d2, "a / a / x", 1, 5, "provisional"),  # 4 of 10
            row(d1, "a / a / y", 2, 5), row(d2, "a / a / y", 2, 5),  # 4 of 10: ties with x
            row(d1, "a / b / z", 9, 10),  # 0.9
            row(d1, "a / b / w", 0, 9),  # 9 ratings: below the support of 10, not ranked
            row(date(2026, 3, 3), "a / b / v", 0, 50),  # outside the period
        ],
        "stat_date date, shop_id string, scene_level int, scene string, metric string, segment string,"
        " numerator double, denominator double, maturity string",
    )
    got = [tuple(r) for r in worst_scenes(daily, d1, d2, min_ratings=10, positions=2).collect()]
    assert got == [
        ("s1", 1, "a / a / x", 0.4, 4.0, 10.0, "provisional"),
        ("s1", 1, "a / a / y", 0.4, 4.0, 10.0, "final"),
    ]
    assert len(worst_scenes(daily, d1, d2, min_ratings=10).collect()) == 3  # z is rank 3
