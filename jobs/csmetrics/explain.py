"""`csmetrics explain`: why a shop's metric changed from one date to another (docs/derived.md,
"Why did this number change").

The decompositions are plain arithmetic over a handful of sums that Spark aggregates from
gold (one shop, two dates): the two sides' numerators and denominators, the same per level-1
scene and per agent, and the sessions of the later date.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.config import Settings, SettingsError
from csmetrics.metrics.session_detail import drill_down_measures
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.tables import AGENT_METRICS_DAILY, BY_NAME, INGEST_LOG, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY, SHOP_METRICS_DAILY, bronze

# The part of a total that no group holds: a buyer counted in two scenes, or rows the
# grouping does not cover. It keeps the contributions summing to the change.
NOT_IN_A_GROUP = "(not in a group)"
UNLABELLED = "(unlabelled)"
SESSIONS_SHOWN = 10


@dataclass(frozen=True)
class Measure:
    numerator: float
    denominator: float | None  # None: a count or a sum

    @property
    def value(self) -> float | None:
        if self.denominator is None:
            return self.numerator
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Split:
    """The change of a value, and (for a ratio or mean) the part of it from the numerator and
    the part from the denominator: each the mean of its effect taken first and taken second,
    so the two sum to the change exactly."""

    before: float | None
    after: float | None
    change: float | None
    numerator_effect: float | None
    denominator_effect: float | None


def split_change(before: Measure | None, after: Measure | None) -> Split:
    value_before = before.value if before else None
    value_after = after.value if after else None
    if value_before is None or value_after is None:
        return Split(value_before, value_after, None, None, None)
    change = value_after - value_before
    if after.denominator is None:
        return Split(value_before, value_after, change, change, None)
    n0, d0, n1, d1 = before.numerator, before.denominator, after.numerator, after.denominator
    numerator_effect = 0.5 * (n1 - n0) * (1 / d0 + 1 / d1)
    denominator_effect = 0.5 * (n0 + n1) * (1 / d1 - 1 / d0)
    return Split(value_before, value_after, change, numerator_effect, denominator_effect)


@dataclass(frozen=True)
class Contribution:
    """A group's part of the change. For a ratio: its share of the denominator and its rate on
    each side; `mix_effect` = (share change) x (old rate), `rate_effect` = (rate change) x (new
    share). A group present on one side only moves the value by its mix alone. For a count:
    the group's own change."""

    group: str
    share_before: float | None
    rate_before: float | None
    share_after: float | None
    rate_after: float | None
    mix_effect: float | None
    rate_effect: float | None
    contribution: float


def shift_share(before: dict[str, Measure], after: dict[str, Measure], total_before: Measure, total_after: Measure) -> list[Contribution]:
    """Every group's contribution to the change of the total, largest first (by size). The
    contributions sum to the change; where the groups do not add up to the totals, the rest is
    the group NOT_IN_A_GROUP."""
    before, after = dict(before), dict(after)
    _add_rest(before, total_before)
    _add_rest(after, total_after)
    groups = sorted(set(before) | set(after))
    if total_after.denominator is None:
        contributions = [
            Contribution(g, None, None, None, None, None, None, _numerator(after, g) - _numerator(before, g)) for g in groups
        ]
    else:
        contributions = [_ratio_contribution(g, before.get(g), after.get(g), total_before.denominator, total_after.denominator) for g in groups]
    return sorted(contributions, key=lambda c: (-abs(c.contribution), c.group))


def _numerator(groups: dict[str, Measure], group: str) -> float:
    return groups[group].numerator if group in groups else 0.0


def _add_rest(groups: dict[str, Measure], total: Measure) -> None:
    numerator = total.numerator - sum(m.numerator for m in groups.values())
    denominator = None if total.denominator is None else total.denominator - sum(m.denominator or 0.0 for m in groups.values())
    if abs(numerator) > 1e-9 * max(1.0, abs(total.numerator)) or (denominator is not None and abs(denominator) > 1e-9 * max(1.0, total.denominator)):
        groups[NOT_IN_A_GROUP] = Measure(numerator, denominator)


def _ratio_contribution(group: str, before: Measure | None, after: Measure | None, total_before: float, total_after: float) -> Contribution:
    share_before = before.denominator / total_before if before else 0.0
    share_after = after.denominator / total_after if after else 0.0
    rate_before = before.value if before else None
    rate_after = after.value if after else None
    # Each side's term of the total: numerator / total denominator (= share x rate).
    contribution = (after.numerator / total_after if after else 0.0) - (before.numerator / total_before if before else 0.0)
    if rate_before is None and rate_after is None:  # the rest, where it has no denominator
        return Contribution(group, share_before, None, share_after, None, None, None, contribution)
    old_rate = rate_before if rate_before is not None else rate_after
    new_rate = rate_after if rate_after is not None else rate_before
    mix = (share_after - share_before) * old_rate
    rate = (new_rate - old_rate) * share_after
    return Contribution(group, share_before, rate_before, share_after, rate_after, mix, rate, contribution)


@dataclass(frozen=True)
class SessionPull:
    """A session of the later date and how far it moves the value from the earlier date's:
    (its numerator - old value x its denominator) / the later total denominator. Over every
    session of the date the pulls sum to the change."""

    session_id: str
    agent_id: str | None
    scene: str | None
    numerator: float
    denominator: float | None
    pull: float


def session_pulls(sessions: list[tuple[str, str | None, str | None, float, float | None]], value_before: float, total_after: Measure) -> list[SessionPull]:
    pulls = []
    for session_id, agent, scene, numerator, denominator in sessions:
        if total_after.denominator is None:
            pull = numerator
        else:
            pull = (numerator - value_before * (denominator or 0.0)) / total_after.denominator
        pulls.append(SessionPull(session_id, agent, scene, numerator, denominator, pull))
    return pulls


def weightiest(pulls: list[SessionPull], change: float, limit: int = SESSIONS_SHOWN) -> list[SessionPull]:
    """The sessions that moved the value most in the direction it moved."""
    sign = 1.0 if change >= 0 else -1.0
    return sorted((p for p in pulls if p.pull * sign > 0), key=lambda p: (-abs(p.pull), p.session_id))[:limit]


@dataclass
class Explanation:
    shop_id: str
    metric: str
    date: str
    versus: str
    direction: str
    split: Split
    maturity: dict[str, str | None]
    by_scene: list[Contribution] = field(default_factory=list)
    by_agent: list[Contribution] = field(default_factory=list)
    sessions: list[SessionPull] = field(default_factory=list)
    # With --versus-version: the commits that rewrote the row since, and the shop's input
    # records that landed between the two computations, per bronze table.
    commits: list[dict] = field(default_factory=list)
    landed_between: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    def headline(self) -> str:
        """One line: what changed and what moved it most."""
        s = self.split
        if s.change is None:
            side = self.versus if s.before is None else self.date
            return f"{self.metric} of {self.shop_id}: no value on {side}, so no change to explain"
        verb = "rose" if s.change > 0 else "fell" if s.change < 0 else "stayed"
        line = f"{self.metric} of {self.shop_id} {verb} from {_fmt(s.before)} on {self.versus} to {_fmt(s.after)} on {self.date} ({s.change:+.4g})"
        groups = [c for c in (self.by_scene or self.by_agent) if c.group != NOT_IN_A_GROUP and c.contribution * s.change > 0]
        if groups:
            top = groups[0]  # the largest that moved it the way it went
            line += f"; most of it from {'scene' if self.by_scene else 'agent'} {top.group} ({top.contribution:+.4g})"
        return line

    def text(self) -> str:
        s = self.split
        lines = [self.headline()]
        if s.change is not None and s.denominator_effect is not None:
            lines.append(f"  numerator effect {s.numerator_effect:+.4g}, denominator effect {s.denominator_effect:+.4g}")
        for title, groups in (("by level-1 scene", self.by_scene), ("by agent", self.by_agent)):
            if groups:
                lines.append(f"  {title} (share before -> after, rate before -> after: mix + rate = contribution)")
                for c in groups:
                    lines.append("    " + _contribution_line(c))
        if self.sessions:
            lines.append(f"  sessions of {self.date} that moved it most (pull on the value):")
            for p in self.sessions:
                lines.append(f"    {p.session_id}  agent {p.agent_id or '-'}  scene {p.scene or '-'}  {p.numerator:g}/{_fmt(p.denominator)}  {p.pull:+.4g}")
        if self.commits:
            lines.append("  commits that changed the row: " + ", ".join(
                f"version {c['version']} ({c['run_id'] if c['change'] == 'written' else 'deleted'})" for c in self.commits
            ))
        if self.landed_between:
            lines.append("  the shop's records ingested between the two computations: "
                         + ", ".join(f"{table} {count:,d}" for table, count in self.landed_between.items()))
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _contribution_line(c: Contribution) -> str:
    if c.mix_effect is None:
        return f"{c.group}: {c.contribution:+.4g}"
    return (
        f"{c.group}: {_fmt(c.share_before)} -> {_fmt(c.share_after)}, {_fmt(c.rate_before)} -> {_fmt(c.rate_after)}: "
        f"{c.mix_effect:+.4g} {c.rate_effect:+.4g} = {c.contribution:+.4g}"
    )


# Spark at the edges: the sums the decomposition needs, for one shop and two dates.

def explain(spark: SparkSession, settings: Settings, shop: str, metric: str, day: date, versus: date | None = None) -> Explanation:
    if metric not in registry.BY_ID:
        raise SettingsError(f"unknown metric {metric!r}: the metrics are listed in docs/metrics.md")
    described = registry.BY_ID[metric]
    versus = versus or day - timedelta(days=1)
    if not SHOP_METRICS_DAILY.exists(spark, settings):
        raise SettingsError(f"{SHOP_METRICS_DAILY.path(settings)} does not exist: run csmetrics run --date first")
    rows = {
        r.stat_date: r
        for r in _read(spark, settings, SHOP_METRICS_DAILY.name)
        .where((F.col("shop_id") == shop) & (F.col("metric") == metric) & (F.col("segment") == "all") & F.col("stat_date").isin(day, versus))
        .select("stat_date", "numerator", "denominator", "maturity")
        .collect()
    }
    if not rows:
        raise SettingsError(f"shop {shop!r} has no {metric} row on {versus} or {day}: check the shop id and the dates (csmetrics show --shop {shop})")
    totals = {d: _measure(rows[d], described) if d in rows else None for d in (versus, day)}
    explanation = Explanation(
        shop, metric, str(day), str(versus), described.direction, split_change(totals[versus], totals[day]),
        {str(d): rows[d].maturity if d in rows else None for d in (versus, day)},
    )
    if explanation.split.change is None:
        explanation.notes.append("a side without a value (no row, or a denominator of 0): nothing to decompose")
        return explanation
    before_total, after_total = _zero_if_missing(totals[versus], described), _zero_if_missing(totals[day], described)
    scenes = _scene_groups(spark, settings, shop, metric, [versus, day])
    if scenes is not None:
        explanation.by_scene = shift_share(scenes.get(versus, {}), scenes.get(day, {}), before_total, after_total)
    else:
        explanation.notes.append(f"{metric} has no level-1 scene breakdown (conversation metrics, satisfaction, FCR and resolution have)")
    if registry.AGENT in described.grains:
        agents = _agent_groups(spark, settings, shop, metric, [versus, day])
        explanation.by_agent = shift_share(agents.get(versus, {}), agents.get(day, {}), before_total, after_total)
    # A session of D has no counterpart on D2: only a rate's or a mean's change splits over them.
    if metric in drill_down_measures() and described.has_denominator:
        pulls = session_pulls(session_sums(spark, settings, shop, metric, day), explanation.split.before, after_total)
        explanation.sessions = weightiest(pulls, explanation.split.change)
    return explanation


def _read(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    return BY_NAME[table].read(spark, settings)


def _measure(row, described: registry.Metric) -> Measure:
    return Measure(float(row.numerator), float(row.denominator) if described.has_denominator else None)


def _zero_if_missing(total: Measure | None, described: registry.Metric) -> Measure:
    return total or Measure(0.0, 0.0 if described.has_denominator else None)


def _grouped(rows, described: registry.Metric) -> dict[date, dict[str, Measure]]:
    groups: dict[date, dict[str, Measure]] = {}
    for r in rows:
        groups.setdefault(r.stat_date, {})[r.group] = Measure(float(r.numerator or 0.0), float(r.denominator or 0.0) if described.has_denominator else None)
    return groups


def _scene_groups(spark, settings, shop, metric, days) -> dict[date, dict[str, Measure]] | None:
    """Per date, the metric's sums per level-1 scene: from the session detail for conversation
    metrics, from the scene metrics for the others it has; None when neither holds them."""
    described = registry.BY_ID[metric]
    measures = drill_down_measures()
    if metric in measures and SESSION_DETAIL_DAILY.exists(spark, settings):
        numerator, denominator = measures[metric]
        rows = (
            _read(spark, settings, SESSION_DETAIL_DAILY.name)
            .where((F.col("shop_id") == shop) & F.col("stat_date").isin(*days))
            .groupBy("stat_date", F.coalesce("scene_l1", F.lit(UNLABELLED)).alias("group"))
            .agg(numerator.alias("numerator"), (denominator if denominator is not None else F.lit(None)).alias("denominator"))
            .collect()
        )
        return _grouped(rows, described)
    if metric != "consult_sessions" and SCENE_METRICS_DAILY.exists(spark, settings):
        rows = (
            _read(spark, settings, SCENE_METRICS_DAILY.name)
            .where((F.col("shop_id") == shop) & (F.col("metric") == metric) & (F.col("scene_level") == 1)
                   & (F.col("segment") == "all") & F.col("stat_date").isin(*days))
            .select("stat_date", F.col("scene").alias("group"), "numerator", "denominator")
            .collect()
        )
        if rows:
            return _grouped(rows, described)
    return None


def _agent_groups(spark, settings, shop, metric, days) -> dict[date, dict[str, Measure]]:
    segment = registry.AGENT_RATING_SEGMENT if metric in ("satisfaction_rate", "very_satisfied_rate") else "all"
    rows = (
        _read(spark, settings, AGENT_METRICS_DAILY.name)
        .where((F.col("shop_id") == shop) & (F.col("metric") == metric) & (F.col("segment") == segment) & F.col("stat_date").isin(*days))
        .select("stat_date", F.col("agent_id").alias("group"), "numerator", "denominator")
        .collect()
    )
    return _grouped(rows, registry.BY_ID[metric])


def session_sums(spark, settings, shop, metric, day) -> list[tuple]:
    numerator, denominator = drill_down_measures()[metric]
    rows = (
        _read(spark, settings, SESSION_DETAIL_DAILY.name)
        .where((F.col("shop_id") == shop) & (F.col("stat_date") == day))
        .groupBy("session_id", "last_agent_id", "scene_l1")
        .agg(numerator.alias("numerator"), (denominator if denominator is not None else F.lit(None)).alias("denominator"))
        .collect()
    )
    return [(r.session_id, r.last_agent_id, r.scene_l1, float(r.numerator or 0.0), None if r.denominator is None else float(r.denominator)) for r in rows]


def explain_versions(spark: SparkSession, settings: Settings, shop: str, metric: str, day: date, version: int) -> Explanation:
    """The change of one final row between Delta version `version` of shop_metrics_daily and
    now (a restatement): its numerator and denominator effects, the commits that rewrote it
    (Change Data Feed), and the shop's records that landed between the two computations, by
    table, among the event dates the metric can read (docs/derived.md)."""
    if metric not in registry.BY_ID:
        raise SettingsError(f"unknown metric {metric!r}: the metrics are listed in docs/metrics.md")
    described = registry.BY_ID[metric]
    path = SHOP_METRICS_DAILY.path(settings)
    wanted = (F.col("shop_id") == shop) & (F.col("metric") == metric) & (F.col("segment") == "all") & (F.col("stat_date") == day)
    columns = ["numerator", "denominator", "maturity", "run_id", "computed_at"]
    try:
        old = SHOP_METRICS_DAILY.read(spark, settings, versionAsOf=str(version)).where(wanted).select(*columns).collect()
    except Exception as error:  # noqa: BLE001 - Delta's message names the versions that exist
        raise SettingsError(f"version {version} of {path} cannot be read ({str(error).splitlines()[0]}); `DESCRIBE HISTORY` lists the versions") from None
    new = SHOP_METRICS_DAILY.read(spark, settings).where(wanted).select(*columns).collect()
    before, after = (_measure(rows[0], described) if rows else None for rows in (old, new))
    explanation = Explanation(
        shop, metric, str(day), f"version {version}", described.direction, split_change(before, after),
        {f"version {version}": old[0].maturity if old else None, "now": new[0].maturity if new else None},
    )
    changed = (
        SHOP_METRICS_DAILY.read(spark, settings, readChangeFeed="true", startingVersion=str(version + 1))
        .where(wanted & F.col("_change_type").isin("insert", "update_postimage", "delete"))
        .select("_commit_version", "_change_type", "run_id").collect()
    ) if version < _latest_version(spark, path) else []
    explanation.commits = _rewrites(changed)
    if old and new:
        explanation.landed_between = _ingested_between(spark, settings, shop, day, described, old[0].computed_at, new[0].computed_at)
    return explanation


def _ingested_between(spark, settings, shop, day, described: registry.Metric, since, until) -> dict[str, int]:
    """The shop's bronze records, per table, that runs ingested after `since` and by `until`
    (the ingest log's times), among the event dates the metric reads."""
    log = (
        INGEST_LOG.read(spark, settings)
        .where((F.col("ingested_at") > F.lit(since)) & (F.col("ingested_at") <= F.lit(until)))
        .select("table", "run_id").distinct().collect()
    )
    runs: dict[str, list[str]] = {}
    for row in log:
        runs.setdefault(row.table, []).append(row.run_id)
    first, last = day - timedelta(days=22), day + timedelta(days=described.window_days + 1)
    counts = {}
    for name, table in RAW_TABLES.items():
        if table.event_time is None or name not in runs:
            continue
        count = (
            bronze(name).read(spark, settings)
            .where((F.col("shop_id") == shop) & F.col(EVENT_DATE).between(F.lit(first), F.lit(last)) & F.col("_run_id").isin(runs[name]))
            .count()
        )
        if count:
            counts[name] = count
    return counts


def _latest_version(spark: SparkSession, path: str) -> int:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, path).history(1).first()["version"]


def _rewrites(changes) -> list[dict]:
    """One entry per commit that touched the row: who wrote it (the new row's run id), or
    that it was deleted (a replace writes its slice as a delete of the old row and an insert
    of the new one, the old row carrying the old run's id)."""
    by_version: dict[int, dict] = {}
    for r in sorted(changes, key=lambda r: (r._commit_version, r._change_type != "delete")):
        if r._change_type == "delete":
            by_version.setdefault(r._commit_version, {"version": r._commit_version, "change": "deleted", "run_id": None})
        else:
            by_version[r._commit_version] = {"version": r._commit_version, "change": "written", "run_id": r.run_id}
    return list(by_version.values())
