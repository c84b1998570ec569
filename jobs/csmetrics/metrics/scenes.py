"""Scene metrics (gold/scene_metrics_daily): SPEC §4's metrics per consultation scene.

Each family that has a scene view computes it from the same frame as its shop metrics, so
the definitions cannot drift apart (docs/metrics.md, "Scene metrics"):

  consult_sessions     the scene's non-filtered sessions of D (numerator) out of the shop's
                       (denominator): value is the scene's share. Segments all, human (sent
                       to a human), bot (bot only), presale, aftersale.
  satisfaction_rate    SPEC's ratings of D of sessions of the scene. Segments as SPEC's.
  fcr_3d               SPEC's received after-sale sessions of D in the scene. Segment all.
  resolution_rate_15d  SPEC's after-sale contact buyers of D with a session of D in the
                       scene (buyers who only opened a ticket have no scene). Segment all.

Every session is in exactly one scene per level (missing labels are UNLABELLED), so at each
level the scenes' counts, numerators and denominators sum to the shop's, except for
resolution_rate_15d, whose buyers can contact the shop in several scenes.
"""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.metrics.long_format import aggregate_by, with_maturity

# The gold table (csmetrics.tables) and the name families keep their scene rows under.
SCENE_METRICS = "scene_metrics_daily"
UNLABELLED = "(unlabelled)"
LEVELS = (1, 2, 3)
LABELS = ("scene_l1", "scene_l2", "scene_l3")
SEPARATOR = " / "
SCENE_COLUMNS = ("scene_level", "scene", *LABELS)
SCENE_KEYS = ["stat_date", "shop_id", *SCENE_COLUMNS, "segment"]


def by_scene(frame: DataFrame) -> DataFrame:
    """Each row of `frame` (with scene_l1..l3) once per level, with that level's scene."""
    labels = [F.coalesce(F.col(c), F.lit(UNLABELLED)) for c in LABELS]
    levels = F.array(
        *[
            F.struct(
                F.lit(level).alias("scene_level"),
                F.concat_ws(SEPARATOR, *labels[:level]).alias("scene"),
                *[(labels[i] if i < level else F.lit(None).cast("string")).alias(LABELS[i]) for i in range(len(LABELS))],
            )
            for level in LEVELS
        ]
    )
    others = [c for c in frame.columns if c not in LABELS]
    return frame.select(*others, F.explode(levels).alias("_scene")).select(*others, "_scene.*")


def scene_aggregate(
    frame: DataFrame, measures: dict[str, tuple[Column, Column | None]], segments: Column, one_per: list[str] | None = None
) -> DataFrame:
    """Long scene rows of `measures` per SCENE_KEYS; `segments` is the array of segments a row
    counts in. With `one_per`, a unit (e.g. a buyer-day) counts once per scene however many
    of its rows are in it."""
    rows = by_scene(frame)
    if one_per:
        rows = rows.dropDuplicates([*one_per, "scene_level", "scene"])
    return aggregate_by(rows.withColumn("segment", F.explode(segments)), SCENE_KEYS, measures)


def after_sale_segment() -> Column:
    return F.when(F.col("is_after_sale"), F.lit("aftersale")).otherwise(F.lit("presale"))


def scene_sessions(sessions_after_sale: DataFrame) -> DataFrame:
    """consult_sessions per scene: non-filtered sessions of D (with is_after_sale) counted in
    their scene, out of the shop's sessions of the segment."""
    kept = sessions_after_sale.where(~F.col("is_filtered"))
    handled_by = F.when(F.col("transferred_to_human_at").isNotNull(), F.lit("human")).otherwise(F.lit("bot"))
    rows = scene_aggregate(kept, {"consult_sessions": (F.count(F.lit(1)), None)}, F.array(F.lit("all"), handled_by, after_sale_segment()))
    # Every session is in one scene per level: the level's scenes add up to the shop.
    shop = Window.partitionBy("stat_date", "shop_id", "scene_level", "segment")
    return rows.withColumn("denominator", F.sum("numerator").over(shop))


Measures = dict[str, tuple[Column, Column | None]]


def scene_satisfaction(rated: DataFrame, measures: Measures) -> DataFrame:
    """The family's satisfaction `measures` per scene, from SPEC's rated population (with the
    rated session's labels and is_after_sale)."""
    segments = F.array(F.lit("all"), F.col("target"), after_sale_segment())
    return scene_aggregate(rated, measures, segments)


def scene_fcr(flagged_sessions: DataFrame, measures: Measures) -> DataFrame:
    """The family's fcr_3d `measures` per scene, from its flagged sessions."""
    return scene_aggregate(flagged_sessions, measures, F.array(F.lit("all")))


def scene_resolution(after_sale_sessions: DataFrame, flagged_buyers: DataFrame, buyer_day: list[str], measures: Measures) -> DataFrame:
    """The family's resolution `measures` per scene: each contact buyer-day (flagged) in the
    scenes of its after-sale sessions of D, once per scene."""
    in_scenes = after_sale_sessions.select(*buyer_day, *LABELS).join(flagged_buyers, buyer_day)
    return scene_aggregate(in_scenes, measures, F.array(F.lit("all")), one_per=buyer_day)


def finish_scenes(
    rows: DataFrame, shops: DataFrame, run_date: date, run_id: str, computed_at: datetime, kept_final: Column | None = None
) -> DataFrame:
    """Value (share or rate), emission, maturity by each metric's window (or `kept_final`), and lineage."""
    emitted = rows.where(F.col("denominator") > 0).withColumn("value", F.col("numerator") / F.col("denominator"))
    return with_maturity(emitted, shops, run_date, run_id, computed_at, kept_final)


def worst_scenes(scene_daily: DataFrame, start: date, end: date, min_ratings: int, positions: int = 10) -> DataFrame:
    """Per shop, its level-3 scenes with the lowest satisfaction over [start, end]: ratings
    and satisfied ratings summed over the days, scenes with at least `min_ratings` ratings.
    Ranked as the leaderboards are (SPEC §5): worst first, equal values (to 9 decimals) share
    a rank and are listed by scene; the ranks up to `positions` are kept. Provisional if any
    day is."""
    level_3 = scene_daily.where(
        (F.col("scene_level") == 3) & (F.col("metric") == "satisfaction_rate") & (F.col("segment") == "all")
        & F.col("stat_date").between(F.lit(start), F.lit(end))
    )
    totals = (
        level_3.groupBy("shop_id", "scene")
        .agg(
            F.sum("numerator").alias("satisfied"),
            F.sum("denominator").alias("ratings"),
            F.max("maturity").alias("maturity"),  # "provisional" > "final"
        )
        .where(F.col("ratings") >= min_ratings)
        .withColumn("satisfaction_rate", F.col("satisfied") / F.col("ratings"))
    )
    assert registry.BY_ID["satisfaction_rate"].direction == registry.HIGHER
    worst_first = Window.partitionBy("shop_id").orderBy(F.round("satisfaction_rate", 9))
    ranked = totals.withColumn("rank", F.rank().over(worst_first).cast("int"))
    return ranked.where(F.col("rank") <= positions).select(
        "shop_id", "rank", "scene", "satisfaction_rate", "satisfied", "ratings", "maturity"
    ).orderBy("shop_id", "rank", "scene")
