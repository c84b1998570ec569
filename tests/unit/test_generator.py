"""The generator produces what real platforms produce, not what the metrics code expects.

Read with pyarrow and pandas, independently of the pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from csmetrics.schedule import cutoff
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics_generate import GenerateOptions, generate

START, DAYS = date(2026, 3, 2), 3


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(GenerateOptions(str(out), shops=60, days=DAYS, start=START, seed=3), lambda message: None)
    return out


def files(landing: Path, table: str) -> list[Path]:
    return sorted((landing / table).glob("dt=*/*.parquet"))


def read(landing: Path, table: str) -> pd.DataFrame:
    return pd.concat([pq.read_table(f).to_pandas() for f in files(landing, table)], ignore_index=True)


def landed_at(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def test_agents_who_split_replies_send_more_messages_than_buyers(landing):
    messages = read(landing, "messages").drop_duplicates("message_id")
    sessions = read(landing, "sessions").drop_duplicates("session_id")[["session_id", "last_agent_id"]]
    per_agent = messages.merge(sessions, on="session_id").groupby("last_agent_id")["sender_role"].value_counts().unstack(fill_value=0)
    ratio = (per_agent["human"] / per_agent["buyer"])[per_agent["buyer"] >= 20]
    assert ratio.min() < 0.8 and ratio.max() > 1.5
    # Bursts: several messages of a session in the same microsecond.
    assert messages.duplicated(["session_id", "sent_at"]).sum() > 0
    # Sessions of hundreds of messages.
    assert messages.groupby("session_id").size().max() >= 200


def test_local_days_have_the_edges_the_spec_names(landing):
    shops = read(landing, "shops").drop_duplicates("shop_id").set_index("shop_id")
    assert {"America/Los_Angeles", "Europe/Berlin", "Pacific/Auckland"} <= set(shops["timezone"])
    sessions = read(landing, "sessions").sort_values("updated_at").drop_duplicates("session_id", keep="last")
    zone = sessions["shop_id"].map(shops["timezone"])
    start_day = [s.tz_convert(z).date() for s, z in zip(sessions["started_at"], zone)]
    end_day = [e.tz_convert(z).date() if pd.notna(e) else None for e, z in zip(sessions["ended_at"], zone)]
    assert sum(e is not None and e > s for s, e in zip(start_day, end_day)) > 0, "no session crosses local midnight"
    # A shop-day whose only sessions were spam or internal.
    sessions["day"] = start_day
    filtered = sessions["is_spam"] | sessions["is_internal"]
    only_filtered = filtered.groupby([sessions["shop_id"], sessions["day"]]).all()
    assert only_filtered.any()
    # Ratings invited on the local day after their session started.
    ratings = read(landing, "ratings").merge(sessions[["session_id", "shop_id", "day"]], on=["session_id", "shop_id"])
    invited_day = [i.tz_convert(shops.loc[s, "timezone"]).date() for i, s in zip(ratings["invited_at"], ratings["shop_id"])]
    assert sum(i > d for i, d in zip(invited_day, ratings["day"])) > 0


def test_files_land_over_time_late_and_re_sent(landing):
    # A file lands in the partition of R + 1 after the run for R has read it.
    open_partition = [
        f for f in files(landing, "messages")
        if landed_at(f) > cutoff(date.fromisoformat(f.parent.name[3:]) - timedelta(days=1))
    ]
    assert open_partition
    every_file = [f for table in ("sessions", "messages", "ratings", "orders", "after_sales", "complaints") for f in files(landing, table)]
    assert any(f.name.endswith("-resent.parquet") for f in every_file)
    # Batches held up upstream land days after their records' events.
    late = 0
    for table in RAW_TABLES.values():
        # Tables whose records arrive when their event happens (orders, tickets and ratings
        # get new versions or answers days later anyway).
        if table.name in ("messages", "sessions", "complaints"):
            for f in files(landing, table.name):
                events = pq.read_table(f, columns=[table.event_time]).column(0).to_pandas()
                late += int((landed_at(f) - events.max()) > pd.Timedelta(days=2))
    assert late > 0


def test_agents_send_auto_replies_from_their_own_accounts(landing):
    """SPEC §3: an auto-reply an agent configured comes from the agent's account
    (sender_role human, msg_type auto_reply), within seconds of the buyer; it is no reply,
    so the real human reply follows it. Some sessions get nothing else from a human."""
    messages = read(landing, "messages").drop_duplicates("message_id")
    agent_auto = messages[(messages["sender_role"] == "human") & (messages["msg_type"] == "auto_reply")]
    assert len(agent_auto) >= 100 and agent_auto["agent_id"].notna().all()
    human = messages[messages["sender_role"] == "human"]
    replied = human[human["msg_type"] != "auto_reply"]
    followed = agent_auto.merge(replied[["session_id", "sent_at"]], on="session_id", suffixes=("", "_reply"))
    assert (followed["sent_at_reply"] > followed["sent_at"]).any()
    assert len(set(agent_auto["session_id"]) - set(replied["session_id"])) > 0
