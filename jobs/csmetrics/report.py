"""The shop diagnosis report: one self-contained HTML page a shop's manager reads at a glance.

For each core metric (the governance thresholds of SPEC §5): the shop's last 30 days against
its peers' average (P60 / P40) and excellent (P90 / P10) values (none for a peer group of
fewer than CSMETRICS_MIN_PEERS shops: the page says "too few peers"), provisional days drawn
hollow; the value of the date with its change over the day, week and month before; this
week's governance status. Then the service experience score (its 30 days, the indicators
against peers, the largest lift), the explanation of the governed metric that changed most
since the day before (`csmetrics explain`), the shop's alerts of the last 7 days, the
shop's worst scenes by satisfaction over the 30 days
(gold/scene_metrics_daily, against the scene's peers), and the sessions behind a failing
3-minute rate on the date (gold/session_detail_daily) and the scenes they were about.

Reads a few thousand gold rows of one shop with Spark (no raw data is collected) and draws
with matplotlib; the charts are embedded in the page as PNG data, so the file can be mailed
or opened offline.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.bronze import read_bronze
from csmetrics.config import Settings, SettingsError
from csmetrics.derived.trends import DAYS, trend_series
from csmetrics.derived.weekly import week_start
from csmetrics.explain import Explanation, explain
from csmetrics.metrics.scenes import worst_scenes
from csmetrics.tables import BY_NAME, safe_name

# The metrics the platform governs a shop by (SPEC §5), in the order a manager reads them.
CORE_METRICS = ("reply_3min_rate", "pickup_rate", "satisfaction_rate", "avg_response_seconds", "avg_wait_seconds")
TITLES = {
    "reply_3min_rate": "3-minute reply rate",
    "pickup_rate": "Pickup rate",
    "satisfaction_rate": "Satisfaction rate",
    "avg_response_seconds": "Average response time",
    "avg_wait_seconds": "Average wait in queue",
}
FAILING_SESSIONS_SHOWN = 30
ALERT_DAYS = 7
SCENES_SHOWN = 10


@dataclass
class ReportData:
    shop: dict
    day: date
    daily: pd.DataFrame  # stat_date, metric, value, maturity (segment all, the 30 days)
    peers: pd.DataFrame  # stat_date, metric, peer_average, peer_excellent, peer_shops
    changes: pd.DataFrame  # metric, grain, value, change (the periods holding `day`)
    governance: pd.DataFrame  # metric, comparison, threshold, value, status, overall_status
    failing_sessions: pd.DataFrame
    scenes: pd.DataFrame  # scene, sessions
    worst: pd.DataFrame  # rank, scene, satisfaction_rate, ratings, maturity, share, peer_average
    min_scene_ratings: int
    min_peers: int  # a group smaller than this has no benchmarks (CSMETRICS_MIN_PEERS)
    # The experience score's rows of the 30 days (every indicator and `score`).
    score: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The shop's alerts of the 7 days up to the date.
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    # `csmetrics explain` of the governed metric that changed most since the day before.
    explanation: Explanation | None = None


def _gold(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    if not BY_NAME[table].exists(spark, settings):
        raise SettingsError(f"gold/{table} does not exist in {settings.warehouse}: run the daily job (csmetrics run) first")
    return BY_NAME[table].read(spark, settings)


def load(spark: SparkSession, settings: Settings, shop_id: str, day: date) -> ReportData:
    """Everything the page shows, as small pandas frames."""
    shops = read_bronze(spark, settings, "shops").where(F.col("shop_id") == shop_id).collect()
    if not shops:
        raise SettingsError(f"shop {shop_id!r} is not in bronze/shops; pick one from `csmetrics show --date {day}`")
    shop = shops[0].asDict()
    first = day - timedelta(days=DAYS - 1)
    core = F.col("metric").isin(*CORE_METRICS) & (F.col("segment") == "all") & (F.col("shop_id") == shop_id)
    # From a year before: the first month and week of the series need the one before them.
    since = day.replace(day=1) - timedelta(days=366)
    daily = _gold(spark, settings, "shop_metrics_daily").where(core & (F.col("stat_date") >= F.lit(since)))
    weekly = _gold(spark, settings, "shop_metrics_weekly").where(core & (F.col("week_start") >= F.lit(since)))
    monthly = _gold(spark, settings, "shop_metrics_monthly").where(core & (F.col("month_start") >= F.lit(since)))
    periods = {"day": day, "week": day - timedelta(days=day.weekday()), "month": day.replace(day=1)}
    changes = (
        trend_series(daily, weekly, monthly, day)
        .where(F.col("period_start") == F.element_at(F.create_map(*[F.lit(x) for kv in periods.items() for x in kv]), F.col("grain")))
        .select("metric", "grain", "value", "change")
        .toPandas()
    )
    peers = (
        _gold(spark, settings, "peer_benchmarks_daily")
        .where(
            (F.col("platform") == shop["platform"]) & (F.col("category") == shop["category"]) & (F.col("tier") == shop["tier"])
            & F.col("metric").isin(*CORE_METRICS) & (F.col("segment") == "all") & F.col("stat_date").between(F.lit(first), F.lit(day))
        )
        .select("stat_date", "metric", "peer_average", "peer_excellent", "peer_shops")
        .toPandas()
    )
    governance = (
        _gold(spark, settings, "governance_weekly")
        .where((F.col("shop_id") == shop_id) & (F.col("week_start") == week_start(F.lit(day))))
        .select("metric", "comparison", "threshold", "value", "status", "overall_status")
        .toPandas()
    )
    detail = _gold(spark, settings, "session_detail_daily").where((F.col("shop_id") == shop_id) & (F.col("stat_date") == F.lit(day)))
    failing = detail.where((F.col("reply_3min_session") == 0) | F.col("unassigned_in_business_hours"))
    scenes = (
        failing.select(F.concat_ws(" / ", F.coalesce("scene_l1", F.lit("(no scene)")), "scene_l2", "scene_l3").alias("scene"))
        .groupBy("scene").count().withColumnRenamed("count", "sessions")
        .orderBy(F.desc("sessions"), "scene").limit(SCENES_SHOWN).toPandas()
    )
    failing_sessions = (
        failing.select(
            "session_id", "buyer_id", "last_agent_id", "started_at", "counted_3min_messages", "replied_3min_messages",
            "unreplied_3min_messages", "first_response_seconds", "unassigned_in_business_hours", "scene_l1", "scene_l2", "scene_l3",
        )
        .orderBy(F.desc(F.col("counted_3min_messages") - F.col("replied_3min_messages")), "started_at", "session_id")
        .toPandas()
    )
    return ReportData(
        shop, day,
        daily.where(F.col("stat_date").between(F.lit(first), F.lit(day))).select("stat_date", "metric", "value", "maturity").toPandas(),
        peers, changes, governance, failing_sessions, scenes, _worst_scenes(spark, settings, shop, first, day),
        settings.min_scene_ratings, settings.min_peers,
        _shop_rows(spark, settings, "experience_score_daily", shop_id, first, day),
        _shop_rows(spark, settings, "metric_alerts_daily", shop_id, day - timedelta(days=ALERT_DAYS - 1), day),
        _largest_change(spark, settings, shop_id, day),
    )


def _shop_rows(spark: SparkSession, settings: Settings, table: str, shop_id: str, first: date, last: date) -> pd.DataFrame:
    """The shop's rows of a derived table over [first, last]; empty where an older warehouse lacks it."""
    if not BY_NAME[table].exists(spark, settings):
        return pd.DataFrame()
    rows = BY_NAME[table].read(spark, settings).where((F.col("shop_id") == shop_id) & F.col("stat_date").between(F.lit(first), F.lit(last)))
    return rows.drop("run_id", "computed_at").toPandas()


def _largest_change(spark: SparkSession, settings: Settings, shop_id: str, day: date) -> Explanation | None:
    """The explanation of the governed metric whose value moved most since the day before,
    relative to where it was."""
    found = []
    for metric in CORE_METRICS:
        try:
            explained = explain(spark, settings, shop_id, metric, day)
        except SettingsError:  # no row on either day
            continue
        split = explained.split
        if split.change:
            found.append((abs(split.change) / max(abs(split.before), 1e-9), explained))
    return max(found, key=lambda pair: pair[0])[1] if found else None


def _worst_scenes(spark: SparkSession, settings: Settings, shop: dict, first: date, day: date) -> pd.DataFrame:
    """The shop's worst level-3 scenes over [first, day], each with its share of the shop's
    sessions over the days and its peers' average satisfaction on `day`."""
    scenes = _gold(spark, settings, "scene_metrics_daily").where(
        (F.col("shop_id") == shop["shop_id"]) & F.col("stat_date").between(F.lit(first), F.lit(day)) & (F.col("scene_level") == 3)
        & (F.col("segment") == "all")
    )
    worst = worst_scenes(scenes, first, day, settings.min_scene_ratings).drop("shop_id")
    shares = (
        scenes.where(F.col("metric") == "consult_sessions")
        .groupBy("scene")
        .agg((F.sum("numerator") / F.sum("denominator")).alias("share"))
    )
    worst = worst.join(shares, "scene", "left")
    benchmarks = BY_NAME["scene_benchmarks_daily"]
    if benchmarks.exists(spark, settings):
        peers = benchmarks.read(spark, settings).where(
            (F.col("platform") == shop["platform"]) & (F.col("category") == shop["category"]) & (F.col("tier") == shop["tier"])
            & (F.col("stat_date") == F.lit(day)) & (F.col("scene_level") == 3) & (F.col("metric") == "satisfaction_rate")
            & (F.col("segment") == "all")
        )
        worst = worst.join(peers.select("scene", "peer_average"), "scene", "left")
    else:
        worst = worst.withColumn("peer_average", F.lit(None).cast("double"))
    return worst.orderBy("rank", "scene").toPandas()


def formatted(metric: str, value) -> str:
    if value is None or pd.isna(value):
        return "–"
    if metric.endswith("_seconds"):
        return f"{value:,.0f} s"
    return f"{100 * value:.1f}%"


def _chart(data: ReportData, metric: str) -> bytes:
    """The 30 days of `metric`: the shop's line, final days filled, provisional hollow, and
    the peers' average and excellent values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    scale = 1 if metric.endswith("_seconds") else 100
    shop = data.daily[data.daily["metric"] == metric].sort_values("stat_date")
    peers = data.peers[data.peers["metric"] == metric].sort_values("stat_date")
    fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
    if not peers.empty:
        ax.plot(peers["stat_date"], peers["peer_excellent"] * scale, color="#2e7d32", linestyle=":", linewidth=1.5, label="peer excellent")
        ax.plot(peers["stat_date"], peers["peer_average"] * scale, color="#757575", linestyle="--", linewidth=1.5, label="peer average")
    if not shop.empty:
        ax.plot(shop["stat_date"], shop["value"] * scale, color="#1565c0", linewidth=2, label="this shop")
        final = shop[shop["maturity"] == "final"]
        provisional = shop[shop["maturity"] != "final"]
        ax.scatter(final["stat_date"], final["value"] * scale, color="#1565c0", zorder=3, s=22)
        ax.scatter(provisional["stat_date"], provisional["value"] * scale, facecolors="white", edgecolors="#1565c0", zorder=3, s=30,
                   label="provisional")
    else:
        ax.text(0.5, 0.5, "no value in these 30 days", transform=ax.transAxes, ha="center", va="center", color="#757575")
    ax.set_xlim(data.day - timedelta(days=DAYS - 1), data.day + timedelta(days=1))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.set_ylabel("seconds" if scale == 1 else "%")
    ax.grid(axis="y", color="#eeeeee")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 24px; color: #212121; max-width: 1320px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.sub { color: #616161; } .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.card { border: 1px solid #e0e0e0; border-radius: 6px; padding: 12px 14px; }
.card h3 { margin: 0 0 4px; font-size: 15px; } .value { font-size: 26px; font-weight: 600; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; } .no_data { color: #757575; }
.up { color: #2e7d32; } .down { color: #c62828; }
table { border-collapse: collapse; font-size: 13px; } th, td { border-bottom: 1px solid #eeeeee; padding: 4px 10px; text-align: left; }
th { background: #fafafa; } img { max-width: 100%; }
"""


def _change(data: ReportData, metric: str, grain: str) -> str:
    row = data.changes[(data.changes["metric"] == metric) & (data.changes["grain"] == grain)]
    if row.empty or pd.isna(row["change"].iloc[0]):
        return f"vs previous {grain}: –"
    change = row["change"].iloc[0]
    better = (change > 0) == (registry.BY_ID[metric].direction == registry.HIGHER)
    return f'vs previous {grain}: <span class="{"up" if better else "down"}">{change:+.1%}</span>'


def _governance_line(data: ReportData, metric: str) -> str:
    row = data.governance[data.governance["metric"] == metric]
    if row.empty:
        return "this week: no governance row yet"
    r = row.iloc[0]
    return (f'this week: <span class="{r.status}">{r.status.replace("_", " ")}</span> '
            f"({formatted(metric, r.value)} against {r.comparison} {formatted(metric, r.threshold)})")


def _peers_line(data: ReportData, metric: str) -> str:
    """How many shops the peer lines stand for; no lines when the group is too small to publish."""
    peers = data.peers[data.peers["metric"] == metric]
    if peers.empty:
        return f"too few peers: no benchmark for fewer than {data.min_peers} shops with enough volume"
    return f"peers: up to {int(peers['peer_shops'].max())} shops a day"


def render(data: ReportData) -> str:
    shop, day = data.shop, data.day
    overall = data.governance["overall_status"].iloc[0] if not data.governance.empty else "no_data"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(shop['shop_id'])} service report {day}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(shop['shop_name'] or shop['shop_id'])} ({html.escape(shop['shop_id'])}): customer service on {day}</h1>",
        f"<div class='sub'>{html.escape(shop['platform'])} · {html.escape(shop['category'])} · tier {html.escape(shop['tier'])} · "
        f"timezone {html.escape(shop['timezone'])} · this week's governance: <span class='{overall}'>{overall.replace('_', ' ')}</span></div>",
        "<p class='sub'>Each chart shows the last 30 days against shops of the same platform, category and tier: "
        "<b>peer average</b> is the value to reach to be in their better 40 %, <b>peer excellent</b> the better 10 %. "
        "Hollow points are provisional: late data can still change them.</p>",
        "<div class='grid'>",
    ]
    for metric in CORE_METRICS:
        today = data.daily[(data.daily["metric"] == metric) & (data.daily["stat_date"] == day)]
        value = today["value"].iloc[0] if not today.empty else None
        maturity = f" ({today['maturity'].iloc[0]})" if not today.empty else ""
        hint = "lower is better" if registry.BY_ID[metric].direction == registry.LOWER else "higher is better"
        image = base64.b64encode(_chart(data, metric)).decode()
        parts += [
            f"<div class='card' data-metric='{metric}'><h3>{TITLES[metric]} <span class='sub'>({hint})</span></h3>",
            f"<div><span class='value'>{formatted(metric, value)}</span><span class='sub'>{maturity}</span></div>",
            f"<div class='sub'>{' · '.join(_change(data, metric, grain) for grain in ('day', 'week', 'month'))}</div>",
            f"<div>{_governance_line(data, metric)} · {_peers_line(data, metric)}</div>",
            f"<img alt='{TITLES[metric]}, last 30 days' src='data:image/png;base64,{image}'></div>",
        ]
    parts.append("</div>")
    parts += _score_section(data)
    parts += _explanation_section(data)
    parts += _alerts_section(data)
    parts += _worst_scene_section(data)
    parts += _failing_sections(data)
    parts.append("</body></html>")
    return "\n".join(parts)


def _score_section(data: ReportData) -> list[str]:
    parts = [
        "<h2>Service experience score</h2>",
        "<p class='sub'>The platform's core indicators over the 30 days up to the date, each placed among the shops of the same "
        "platform and category: <b>points</b> are the share of those peers that do no better, out of 100. The score is "
        "their weighted mean. <b>Lift</b> is what the score would gain if that indicator alone reached the peers' "
        "excellent value (their better 10 %).</p>",
    ]
    if data.score.empty:
        return [*parts, "<p>No score yet: no data for any indicator in these 30 days.</p>"]
    rows = data.score[data.score["stat_date"] == data.day]
    score = rows[rows["indicator"] == "score"]
    if score.empty:
        return [*parts, f"<p>No score on {data.day}: no data for any indicator in its 30 days.</p>"]
    top = score.iloc[0]
    indicators = rows[rows["indicator"] != "score"].sort_values("indicator")
    value = "–" if pd.isna(top.value) else f"{top.value:.1f}"
    parts.append(f"<div class='card' id='experience-score'><div><span class='value'>{value}</span><span class='sub'> / 100 ({top.maturity})</span></div>")
    if pd.isna(top.value):
        parts.append(f"<p>{html.escape(str(top.reason))}</p>")
    lifts = indicators.dropna(subset=["lift_to_excellent"])
    if not lifts.empty and lifts["lift_to_excellent"].max() > 0:
        best = lifts.loc[lifts["lift_to_excellent"].idxmax()]
        parts.append(
            f"<p id='largest-lift'>Largest lift: <b>{html.escape(_title(best.indicator))}</b>. Reaching the peers' excellent "
            f"{formatted(best.indicator, best.peer_excellent)} (now {formatted(best.indicator, best.value)}) would add "
            f"<b>{best.lift_to_excellent:.1f}</b> points.</p>"
        )
    image = base64.b64encode(_score_chart(data)).decode()
    parts.append(f"<img alt='Experience score, last 30 days' src='data:image/png;base64,{image}'>")
    parts.append("<table id='score-indicators'><tr><th>indicator</th><th>value</th><th>peer excellent</th><th>points</th>"
                 "<th>lift</th><th></th></tr>")
    for r in indicators.itertuples():
        points = "–" if pd.isna(r.points) else f"{r.points:.0f}"
        lift = "–" if pd.isna(r.lift_to_excellent) else f"+{r.lift_to_excellent:.1f}"
        cells = [_title(r.indicator), formatted(r.indicator, r.value), formatted(r.indicator, r.peer_excellent), points, lift,
                 "" if r.reason is None or pd.isna(r.reason) else r.reason]
        parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    parts.append("</table></div>")
    return parts


def _title(metric: str) -> str:
    return TITLES.get(metric, metric.replace("_", " "))


def _score_chart(data: ReportData) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    series = data.score[(data.score["indicator"] == "score")].dropna(subset=["value"]).sort_values("stat_date")
    fig, ax = plt.subplots(figsize=(6.4, 2.2), dpi=100)
    if series.empty:
        ax.text(0.5, 0.5, "no score in these 30 days", transform=ax.transAxes, ha="center", va="center", color="#757575")
    else:
        ax.plot(series["stat_date"], series["value"], color="#6a1b9a", linewidth=2, label="score")
        provisional = series[series["maturity"] != "final"]
        ax.scatter(series["stat_date"], series["value"], color="#6a1b9a", zorder=3, s=18)
        ax.scatter(provisional["stat_date"], provisional["value"], facecolors="white", edgecolors="#6a1b9a", zorder=4, s=26, label="provisional")
    ax.set_ylim(0, 100)
    ax.set_xlim(data.day - timedelta(days=DAYS - 1), data.day + timedelta(days=1))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.grid(axis="y", color="#eeeeee")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _explanation_section(data: ReportData) -> list[str]:
    parts = ["<h2>What changed most since the day before</h2>"]
    e = data.explanation
    if e is None:
        return [*parts, "<p>None of the governed metrics has a value on both days.</p>"]
    s = e.split
    parts.append(f"<p id='explanation'><b>{html.escape(_title(e.metric))}</b> went from {formatted(e.metric, s.before)} on {e.versus} "
                 f"to {formatted(e.metric, s.after)} on {e.date}.")
    if s.denominator_effect is not None:
        parts.append(f" Of that change, {_signed(e.metric, s.numerator_effect)} came from its numerator and "
                     f"{_signed(e.metric, s.denominator_effect)} from its denominator (how many were counted).")
    parts.append("</p>")
    for group, groups in (("scene", e.by_scene[:5]), ("agent", e.by_agent[:5])):
        if groups:
            parts.append(f"<table class='contributions'><tr><th>{group}</th><th>share before → after</th>"
                         f"<th>rate before → after</th><th>contribution</th></tr>")
            for c in groups:
                shares = "–" if c.share_before is None else f"{c.share_before:.0%} → {c.share_after:.0%}"
                rates = f"{formatted(e.metric, c.rate_before)} → {formatted(e.metric, c.rate_after)}"
                parts.append(f"<tr><td>{html.escape(c.group)}</td><td>{shares}</td><td>{rates}</td><td>{_signed(e.metric, c.contribution)}</td></tr>")
            parts.append("</table>")
    if e.sessions:
        parts.append(f"<p class='sub'>Sessions of {e.date} that moved it most: "
                     + ", ".join(html.escape(f"{p.session_id} ({p.agent_id or 'no agent'})") for p in e.sessions[:5]) + ".</p>")
    return parts


def _signed(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric.endswith("_seconds"):
        return f"{value:+,.0f} s"
    return f"{100 * value:+.1f} points"


def _alerts_section(data: ReportData) -> list[str]:
    parts = [f"<h2>Open alerts, last {ALERT_DAYS} days</h2>",
             "<p class='sub'>A day worse than both the shop's own last 28 days and its peers' average.</p>"]
    if data.alerts.empty:
        return [*parts, "<p>None.</p>"]
    parts.append("<table id='alerts'><tr><th>date</th><th>metric</th><th>severity</th><th>value</th><th>usual</th><th>why</th></tr>")
    for r in data.alerts.sort_values(["stat_date", "severity", "metric"], ascending=[False, True, True]).itertuples():
        usual = r.baseline
        metric = r.metric if r.metric in registry.BY_ID else "score"
        value = f"{r.value:.1f}" if metric == "score" else formatted(metric, r.value)
        usual_text = f"{usual:.1f}" if metric == "score" else formatted(metric, usual)
        cells = [r.stat_date, _title(r.metric), r.severity, value, usual_text, r.explanation]
        parts.append(f"<tr class='{r.severity}'>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    return parts


def _worst_scene_section(data: ReportData) -> list[str]:
    parts = [
        "<h2>Scenes with the lowest satisfaction, last 30 days</h2>",
        "<p class='sub'>What buyers asked about, at the finest level, where ratings were worst. Only scenes with "
        f"at least {data.min_scene_ratings} ratings in the 30 days are ranked. <b>Peer average</b> is the scene's satisfaction "
        f"at shops like this one on {data.day}; \"too few peers\" when fewer than {data.min_peers} of them had enough ratings that day.</p>",
    ]
    if data.worst.empty:
        return [*parts, f"<p>No scene had {data.min_scene_ratings} ratings yet.</p>"]
    parts.append("<table id='worst-scenes'><tr><th>rank</th><th>scene</th><th>satisfaction</th><th>ratings</th>"
                 "<th>share of sessions</th><th>peer average</th></tr>")
    for r in data.worst.itertuples():
        provisional = " (provisional)" if r.maturity == "provisional" else ""
        cells = [r.rank, r.scene, formatted("satisfaction_rate", r.satisfaction_rate) + provisional, f"{r.ratings:,.0f}",
                 formatted("share", r.share), _scene_peer_average(r.peer_average)]
        parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    return parts


def _scene_peer_average(value) -> str:
    """A scene without a benchmark on the date had too few peers with enough ratings."""
    return "too few peers" if value is None or pd.isna(value) else formatted("satisfaction_rate", value)


def _failing_sections(data: ReportData) -> list[str]:
    failing = data.failing_sessions
    parts = [
        f"<h2>Sessions that failed the 3-minute rule on {data.day}: {len(failing)}</h2>",
        "<p class='sub'>A session fails when a buyer message sent to a human in business hours waited more than "
        "3 minutes for a reply, or got none, or when the session was sent to a human in business hours and never "
        "assigned. The worst first.</p>",
    ]
    if failing.empty:
        return [*parts, "<p>None.</p>"]
    parts.append("<table id='failing-sessions'><tr><th>session</th><th>buyer</th><th>last agent</th><th>started (shop time)</th>"
                 "<th>counted</th><th>in time</th><th>never answered</th><th>first response</th><th>unassigned</th><th>scene</th></tr>")
    for r in failing.head(FAILING_SESSIONS_SHOWN).itertuples():
        started = pd.Timestamp(r.started_at).tz_localize("UTC").tz_convert(data.shop["timezone"])
        cells = [r.session_id, r.buyer_id, r.last_agent_id or "–", f"{started:%H:%M:%S}", r.counted_3min_messages,
                 r.replied_3min_messages, r.unreplied_3min_messages, formatted("first_response_seconds", r.first_response_seconds),
                 "yes" if r.unassigned_in_business_hours else "", " / ".join(filter(None, (r.scene_l1, r.scene_l2, r.scene_l3))) or "–"]
        parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    if len(failing) > FAILING_SESSIONS_SHOWN:
        parts.append(f"<p class='sub'>… and {len(failing) - FAILING_SESSIONS_SHOWN} more in gold/session_detail_daily.</p>")
    parts += ["<h2>What they were about</h2>", "<table id='failing-scenes'><tr><th>scene</th><th>failing sessions</th></tr>"]
    parts += [f"<tr><td>{html.escape(r.scene)}</td><td>{r.sessions}</td></tr>" for r in data.scenes.itertuples()]
    parts.append("</table>")
    return parts


def write_report(spark: SparkSession, settings: Settings, shop_id: str, day: date, out_dir: str | Path) -> Path:
    """Write `<out_dir>/<shop>-<date>.html`; return its path."""
    page = render(load(spark, settings, shop_id, day))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{safe_name(shop_id)}-{day}.html"
    path.write_text(page, encoding="utf-8")
    return path
